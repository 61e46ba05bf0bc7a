using NetArchTest.Rules;

namespace InferServer.Server.Tests.Architecture;

/// <summary>
/// The OpenAI-compatible port stands beside the gRPC API, not behind it (docs/architecture.md): it reads its bodies into
/// the server's own request types and maps the shared validation's errors itself, so none of its types uses the gRPC
/// contract (the generated messages, protobuf, google.rpc details).
/// </summary>
public sealed class FrontDoorRulesTests
{
    [Fact]
    public void TheOpenAiPort_UsesNoTypeOfTheGrpcContract()
    {
        var result = Types.InAssembly(typeof(Server.Api.OpenAi.OpenAiApi).Assembly)
            .That().ResideInNamespace("InferServer.Server.Api.OpenAi")
            .ShouldNot().HaveDependencyOnAny("InferServer.Api.V1", "Google.Protobuf", "Google.Rpc")
            .GetResult();

        Assert.True(result.IsSuccessful, "uses the gRPC contract: " + string.Join(", ", result.FailingTypes.Select(type => type.FullName)));
    }

    [Fact]
    public void TheRule_SeesTheGrpcServices_UseTheContract()
    {
        // The rule can fail: the gRPC door's own mappers do use the contract.
        var result = Types.InAssembly(typeof(Server.Api.OpenAi.OpenAiApi).Assembly)
            .That().HaveName("GenerationMapper")
            .ShouldNot().HaveDependencyOnAny("InferServer.Api.V1")
            .GetResult();

        Assert.False(result.IsSuccessful);
    }
}
