using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;
using InferServer.Api.V1;

namespace InferServer.Server.Tests.Api.OpenAi;

/// <summary>/tokenize and /detokenize (vLLM's shapes) and the gRPC Tokenize/Detokenize, through the real server.</summary>
[Collection(OpenAiServerCollection.Name)]
public sealed class OpenAiTokenizeTests(OpenAiServerFixture fixture)
{
    private OpenAiTestServer Server => fixture.Server;

    private static readonly object[] Messages = [new { role = "user", content = "Say hello." }];

    [Fact]
    public async Task TokenizeAPrompt_CountsExactlyThePromptTokensACompletionReports()
    {
        var (status, body) = await Server.PostAsync("tokenize", new { model = OpenAiTestServer.ServedName, prompt = "The quick brown fox" });
        var (_, completion) = await Server.PostAsync("v1/completions",
            new { model = OpenAiTestServer.ServedName, prompt = "The quick brown fox", max_tokens = 1, temperature = 0 });

        Assert.True(status == 200, OpenAiTestServer.Show(body));
        var tokens = body!["tokens"]!.AsArray().Select(token => (int)token!).ToArray();
        Assert.Equal(tokens.Length, (int)body["count"]!);
        Assert.Equal((int)completion!["usage"]!["prompt_tokens"]!, tokens.Length);
        Assert.True((int)body["max_model_len"]! > 0);

        var (back, text) = await Server.PostAsync("detokenize", new { model = OpenAiTestServer.ServedName, tokens });
        Assert.True(back == 200, OpenAiTestServer.Show(text));
        Assert.Equal("The quick brown fox", (string?)text!["prompt"]);
    }

    [Fact]
    public async Task TokenizeMessages_CountsWhatChatReports_AndWithoutTheGenerationPromptIsShorter()
    {
        var (status, body) = await Server.PostAsync("tokenize", new { model = OpenAiTestServer.ServedName, messages = Messages });
        var (_, chat) = await Server.PostAsync("v1/chat/completions",
            new { model = OpenAiTestServer.ServedName, messages = Messages, max_tokens = 1, temperature = 0 });
        var (_, bare) = await Server.PostAsync("tokenize",
            new { model = OpenAiTestServer.ServedName, messages = Messages, add_generation_prompt = false });

        Assert.True(status == 200, OpenAiTestServer.Show(body));
        Assert.Equal((int)chat!["usage"]!["prompt_tokens"]!, (int)body!["count"]!);
        Assert.True((int)bare!["count"]! < (int)body["count"]!, OpenAiTestServer.Show(bare));
        var withHeader = body["tokens"]!.AsArray().Select(token => (int)token!).ToArray();
        var withoutHeader = bare["tokens"]!.AsArray().Select(token => (int)token!).ToArray();
        Assert.Equal(withoutHeader, withHeader[..withoutHeader.Length]);
    }

    [Fact]
    public async Task TokenizeThroughAnAdapter_GivesTheBaseTokens_AndAnUnknownModelIs404()
    {
        var (loaded, loadBody) = await Server.PostAsync("v1/load_lora_adapter",
            new { lora_name = "tokenize-qv-r8", lora_path = OpenAiTestServer.AdapterDirectory("qv-r8") });
        Assert.True(loaded == 200, OpenAiTestServer.Show(loadBody));
        try
        {
            var (_, viaBase) = await Server.PostAsync("tokenize", new { model = OpenAiTestServer.ServedName, messages = Messages });
            var (status, viaAdapter) = await Server.PostAsync("tokenize", new { model = "tokenize-qv-r8", messages = Messages });
            Assert.True(status == 200, OpenAiTestServer.Show(viaAdapter));
            Assert.Equal(OpenAiTestServer.Show(viaBase!["tokens"]), OpenAiTestServer.Show(viaAdapter!["tokens"]));
        }
        finally
        {
            await Server.PostAsync("v1/unload_lora_adapter", new { lora_name = "tokenize-qv-r8" });
        }

        var (missing, error) = await Server.PostAsync("tokenize", new { model = "no-such-adapter", prompt = "x" });
        Assert.Equal(404, missing);
        Assert.Equal("model", (string?)error!["error"]!["param"]);
        var (missingDetokenize, _) = await Server.PostAsync("detokenize", new { model = "no-such-adapter", tokens = new[] { 1 } });
        Assert.Equal(404, missingDetokenize);
    }

    [Theory]
    [InlineData("""{"model":"llama-tiny"}""", "prompt")]
    [InlineData("""{"model":"llama-tiny","prompt":"a","messages":[{"role":"user","content":"b"}]}""", "messages")]
    [InlineData("""{"model":"llama-tiny","prompt":7}""", "prompt")]
    [InlineData("""{"model":"llama-tiny","prompt":"a","add_generation_prompt":true}""", "add_generation_prompt")]
    [InlineData("""{"model":"llama-tiny","messages":[{"role":"robot","content":"b"}]}""", "messages[0].role")]
    [InlineData("""{"model":"llama-tiny","prompt":"a","return_tokens_as_ids":true}""", "return_tokens_as_ids")]
    [InlineData("""{"prompt":"a"}""", "model")]
    public async Task BadTokenizeBodies_Are400NamingTheParam(string json, string param)
    {
        var (status, body) = await Server.PostAsync("tokenize", JsonNode.Parse(json)!);

        Assert.Equal(400, status);
        Assert.Equal(param, (string?)body!["error"]!["param"]);
    }

    [Theory]
    [InlineData("""{"model":"llama-tiny","tokens":[5, 50257]}""", "tokens[1]")]
    [InlineData("""{"model":"llama-tiny","tokens":[5, 6, 1000]}""", "tokens[2]")] // a hole: the vocabulary is cut to 1000 ids plus <|endoftext|>
    [InlineData("""{"model":"llama-tiny","tokens":[-1]}""", "tokens[0]")]
    [InlineData("""{"model":"llama-tiny","tokens":"5"}""", "tokens")]
    [InlineData("""{"model":"llama-tiny"}""", "tokens")]
    public async Task BadDetokenizeBodies_Are400NamingTheParam(string json, string param)
    {
        var (status, body) = await Server.PostAsync("detokenize", JsonNode.Parse(json)!);

        Assert.Equal(400, status);
        Assert.Equal(param, (string?)body!["error"]!["param"]);
    }

    [Fact]
    public async Task GrpcTokenize_EqualsTheHttpAnswer_AndRoundTripsThroughDetokenize()
    {
        using var channel = GrpcChannel.ForAddress(Server.GrpcAddress);
        var client = new Inference.InferenceClient(channel);
        var request = new TokenizeRequest();
        request.Messages.Add(new ChatMessage { Role = "user", Content = "Say hello." });

        var grpc = await client.TokenizeAsync(request);
        var (_, http) = await Server.PostAsync("tokenize", new { model = OpenAiTestServer.ServedName, messages = Messages });

        Assert.Equal(http!["tokens"]!.AsArray().Select(token => (int)token!), grpc.TokenIds);
        Assert.Equal(grpc.TokenIds.Count, grpc.Count);
        Assert.Equal("chatml", grpc.ChatTemplate); // llama-tiny has no template of its own
        var text = await client.DetokenizeAsync(new DetokenizeRequest { Tokens = { grpc.TokenIds } });
        var again = await client.TokenizeAsync(new TokenizeRequest { Text = text.Prompt, AddSpecialTokens = false });
        Assert.Equal(grpc.TokenIds, again.TokenIds);
    }

    [Fact]
    public async Task GrpcBadInput_IsInvalidArgumentWithAFieldViolation_AndAnUnknownAdapterIsNotFound()
    {
        using var channel = GrpcChannel.ForAddress(Server.GrpcAddress);
        var client = new Inference.InferenceClient(channel);

        var neither = await Assert.ThrowsAsync<RpcException>(async () => await client.TokenizeAsync(new TokenizeRequest()));
        Assert.Equal(StatusCode.InvalidArgument, neither.StatusCode);
        Assert.Equal("text", Assert.Single(neither.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations).Field);

        var outside = await Assert.ThrowsAsync<RpcException>(async () => await client.DetokenizeAsync(new DetokenizeRequest { Tokens = { 1, 2, 999_999 } }));
        Assert.Equal(StatusCode.InvalidArgument, outside.StatusCode);
        Assert.Equal("tokens[2]", Assert.Single(outside.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations).Field);

        var unknown = await Assert.ThrowsAsync<RpcException>(async () => await client.TokenizeAsync(new TokenizeRequest { Adapter = "no-such-adapter", Text = "x" }));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
    }
}
