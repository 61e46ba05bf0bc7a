using TorchSharp;

namespace InferServer.Safetensors.Tests;

/// <summary>Files written by Python's safetensors library (shared/fixtures), read back by this implementation.</summary>
public sealed class SafetensorsReferenceFixtureTests
{
    private static readonly string LlamaBase = ReferenceFixtures.File("llama-tiny", "base", "model.safetensors");
    private static readonly string Gpt2Adapter = ReferenceFixtures.File("gpt2-tiny", "adapters", "attn-r4", "adapter_model.safetensors");

    [Fact]
    public void LlamaBaseCheckpoint_HasTheExpectedTensorsAndValues()
    {
        using var file = SafetensorsFile.Open(LlamaBase);
        using var scope = torch.NewDisposeScope();

        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(21, file.Tensors.Count);
        Assert.Equal(new long[] { 1000, 64 }, file.Tensors["lm_head.weight"].Shape);
        Assert.Equal(new long[] { 32, 64 }, file.Tensors["model.layers.1.self_attn.k_proj.weight"].Shape);
        Assert.Equal(new long[] { 64, 128 }, file.Tensors["model.layers.0.mlp.down_proj.weight"].Shape);
        Assert.All(file.Tensors.Values, info => Assert.Equal(SafetensorsDType.F32, info.DType));

        // Values printed by Python (as doubles) from the same bytes.
        Assert.Equal(Floats(1.079111933708191, 0.9946572184562683, 1.0125864744186401, 0.9288927316665649), file.Read("model.norm.weight")[..4].data<float>().ToArray());
        Assert.Equal(Floats(0.6875130534172058, 0.14590272307395935), file.Read("lm_head.weight")[0, ..2].contiguous().data<float>().ToArray());
    }

    [Fact]
    public void EveryTensorOfBothFixtures_ReadsWithItsDeclaredShapeAndDType()
    {
        foreach (string path in new[] { LlamaBase, Gpt2Adapter })
        {
            using var file = SafetensorsFile.Open(path);
            foreach (var info in file.Tensors.Values)
            {
                using var tensor = file.Read(info.Name);
                Assert.Equal(info.Shape, tensor.shape);
                Assert.Equal(torch.ScalarType.Float32, tensor.dtype);
                Assert.True(tensor.isfinite().all().item<bool>(), info.Name);
            }
        }
    }

    [Fact]
    public void PeftAdapterFile_HoldsLoraPairsInPeftLayout()
    {
        using var file = SafetensorsFile.Open(Gpt2Adapter);
        using var scope = torch.NewDisposeScope();

        Assert.Equal(4, file.Tensors.Count);
        Assert.Equal(new long[] { 4, 64 }, file.Tensors["base_model.model.transformer.h.0.attn.c_attn.lora_A.weight"].Shape);
        Assert.Equal(new long[] { 192, 4 }, file.Tensors["base_model.model.transformer.h.1.attn.c_attn.lora_B.weight"].Shape);
        Assert.Equal(
            Floats(-0.04600144922733307, 0.017353428527712822, -0.2632218599319458, 0.10206952691078186),
            file.Read("base_model.model.transformer.h.1.attn.c_attn.lora_B.weight").flatten()[..4].data<float>().ToArray());
    }

    [Fact]
    public void RewritingAFixture_ReproducesItsTensorsExactly()
    {
        using var directory = new TemporaryDirectory();
        using var scope = torch.NewDisposeScope();
        using var original = SafetensorsFile.Open(Gpt2Adapter);
        var tensors = original.Tensors.Keys.ToDictionary(name => name, name => original.Read(name));
        string copy = directory.File("copy.safetensors");
        SafetensorsWriter.Write(copy, tensors, original.Metadata);

        using var rewritten = SafetensorsFile.Open(copy);
        Assert.Equal(original.Metadata, rewritten.Metadata);
        Assert.Equal(original.Tensors.Keys.Order(), rewritten.Tensors.Keys.Order());
        Assert.All(tensors, pair => Assert.Equal(pair.Value.bytes.ToArray(), rewritten.Read(pair.Key).bytes.ToArray()));
    }

    private static float[] Floats(params double[] values) => [.. values.Select(value => (float)value)];
}
