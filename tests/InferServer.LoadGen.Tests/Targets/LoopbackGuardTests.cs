using InferServer.LoadGen.Targets;

namespace InferServer.LoadGen.Tests.Targets;

public sealed class LoopbackGuardTests
{
    [Theory]
    [InlineData("http://127.0.0.1:50051")]
    [InlineData("http://127.0.0.2:50051")]
    [InlineData("http://localhost:50051")]
    [InlineData("http://[::1]:50051")]
    public void LoopbackTargets_AreAllowed(string target) => Assert.Null(LoopbackGuard.Check(new Uri(target), allowRemote: false));

    [Theory]
    [InlineData("http://10.0.0.5:50051")]
    [InlineData("http://example.com:50051")]
    [InlineData("http://0.0.0.0:50051")]
    public void OtherTargets_AreRefused_UnlessAllowed(string target)
    {
        Assert.Contains("--allow-remote", LoopbackGuard.Check(new Uri(target), allowRemote: false));
        Assert.Null(LoopbackGuard.Check(new Uri(target), allowRemote: true));
    }
}
