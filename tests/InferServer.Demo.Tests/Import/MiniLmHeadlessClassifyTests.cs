using InferServer.Engine;

namespace InferServer.Demo.Tests.Import;

/// <summary>Classify on the headless MiniLM needs an adapter that brings a head; one without is refused, never answered empty.</summary>
[Collection(MiniLmCollection.Name)]
public sealed class MiniLmHeadlessClassifyTests(MiniLmFixture fixture)
{
    [Fact]
    public async Task ClassifyWithAnAdapterThatBringsNoHead_IsRefused_AndTheEngineGoesOn()
    {
        await using var runtime = await fixture.StartEngine();
        var engine = runtime.Engine;

        var refused = await Assert.ThrowsAsync<ModelCapabilityException>(() =>
            engine.ClassifyAsync(new ClassificationRequest("embed-r8", ["a sentence"])).WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Contains("embed-r8", refused.Message);
        var labelled = await engine.ClassifyAsync(new ClassificationRequest("sentiment-cls2", ["a sentence"])).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.NotEmpty(labelled.Results[0].Scores);
    }
}
