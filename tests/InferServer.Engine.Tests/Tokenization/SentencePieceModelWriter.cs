using Google.Protobuf;

namespace InferServer.Engine.Tests.Tokenization;

/// <summary>
/// Builds a real SentencePiece BPE model file offline (sentencepiece_model.proto: ModelProto{pieces=1,
/// trainer_spec=2, normalizer_spec=3}). Pieces: &lt;unk&gt;=0, &lt;s&gt;=1, &lt;/s&gt;=2, 256 byte-fallback pieces
/// &lt;0x00&gt;..&lt;0xFF&gt; (ids 3..258), then the given pieces with falling scores (earlier merges first).
/// </summary>
internal static class SentencePieceModelWriter
{
    private const int Normal = 1, Unknown = 2, Control = 3, Byte = 6;

    public static byte[] Build(IEnumerable<string> pieces)
    {
        using var buffer = new MemoryStream();
        var output = new CodedOutputStream(buffer);
        void Piece(string text, float score, int type)
        {
            output.WriteTag(1, WireFormat.WireType.LengthDelimited);
            output.WriteBytes(Message(inner =>
            {
                inner.WriteTag(1, WireFormat.WireType.LengthDelimited);
                inner.WriteString(text);
                inner.WriteTag(2, WireFormat.WireType.Fixed32);
                inner.WriteFloat(score);
                inner.WriteTag(3, WireFormat.WireType.Varint);
                inner.WriteInt32(type);
            }));
        }
        Piece("<unk>", 0, Unknown);
        Piece("<s>", 0, Control);
        Piece("</s>", 0, Control);
        for (var b = 0; b < 256; b++)
        {
            Piece($"<0x{b:X2}>", 0, Byte);
        }
        var score = 0f;
        foreach (var piece in pieces)
        {
            Piece(piece, score--, Normal);
        }
        // trainer_spec: model_type=BPE(2), byte_fallback, unk/bos/eos ids, no pad.
        output.WriteTag(2, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(Message(inner =>
        {
            (int Field, long Value)[] fields = [(3, 2), (35, 1), (40, 0), (41, 1), (42, 2), (43, -1)];
            foreach (var (field, value) in fields)
            {
                inner.WriteTag(field, WireFormat.WireType.Varint);
                inner.WriteInt64(value);
            }
        }));
        // normalizer_spec: identity rules, add_dummy_prefix, keep whitespace, escape whitespace as "▁".
        output.WriteTag(3, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(Message(inner =>
        {
            inner.WriteTag(1, WireFormat.WireType.LengthDelimited);
            inner.WriteString("identity");
            (int Field, bool Value)[] flags = [(3, true), (4, false), (5, true)];
            foreach (var (field, value) in flags)
            {
                inner.WriteTag(field, WireFormat.WireType.Varint);
                inner.WriteBool(value);
            }
        }));
        output.Flush();
        return buffer.ToArray();
    }

    private static ByteString Message(Action<CodedOutputStream> write)
    {
        using var buffer = new MemoryStream();
        var output = new CodedOutputStream(buffer);
        write(output);
        output.Flush();
        return ByteString.CopyFrom(buffer.ToArray());
    }

}
