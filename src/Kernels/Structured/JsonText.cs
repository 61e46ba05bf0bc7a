using System.Text.Encodings.Web;
using System.Text.Json;

namespace InferServer.Kernels.Structured;

/// <summary>How the grammar writes JSON text it fixes in advance (property names, const and enum values).</summary>
internal static class JsonText
{
    /// <summary>The bytes between the quotes of <paramref name="value"/> as a JSON string: quote, backslash and control
    /// characters escaped, everything else as UTF-8.</summary>
    public static byte[] EncodeStringContent(string value) =>
        JsonEncodedText.Encode(value, JavaScriptEncoder.UnsafeRelaxedJsonEscaping).EncodedUtf8Bytes.ToArray();
}
