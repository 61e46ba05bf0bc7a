namespace InferServer.Server.Tests.Api.OpenAi;

[Collection(OpenAiServerCollection.Name)]
public sealed class OpenAiModelsTests(OpenAiServerFixture fixture)
{
    private OpenAiTestServer Server => fixture.Server;

    [Fact]
    public async Task Models_ListsTheBaseModelByItsServedNameFirst()
    {
        var body = System.Text.Json.Nodes.JsonNode.Parse(await Server.Client.GetStringAsync("v1/models"))!;

        Assert.Equal("list", (string?)body["object"]);
        var first = body["data"]![0]!;
        Assert.Equal(OpenAiTestServer.ServedName, (string?)first["id"]);
        Assert.Equal("model", (string?)first["object"]);
        Assert.Null(first["parent"]);
        Assert.True((int)first["max_model_len"]! > 0);
    }

    [Fact]
    public async Task ALoadedAdapter_IsListedWithTheBaseAsParentUntilUnloaded()
    {
        var (loaded, loadBody) = await Server.PostAsync("v1/load_lora_adapter",
            new { lora_name = "models-qv-r8", lora_path = OpenAiTestServer.AdapterDirectory("qv-r8") });
        Assert.True(loaded == 200, OpenAiTestServer.Show(loadBody));
        try
        {
            var listed = System.Text.Json.Nodes.JsonNode.Parse(await Server.Client.GetStringAsync("v1/models"))!["data"]!.AsArray();
            var adapter = Assert.Single(listed, model => (string?)model!["id"] == "models-qv-r8")!;
            Assert.Equal(OpenAiTestServer.ServedName, (string?)adapter["parent"]);
            Assert.Equal("models-qv-r8", (string?)adapter["root"]); // never a server directory
        }
        finally
        {
            var (unloaded, unloadBody) = await Server.PostAsync("v1/unload_lora_adapter", new { lora_name = "models-qv-r8" });
            Assert.True(unloaded == 200, OpenAiTestServer.Show(unloadBody));
        }
        var after = System.Text.Json.Nodes.JsonNode.Parse(await Server.Client.GetStringAsync("v1/models"))!["data"]!.AsArray();
        Assert.DoesNotContain(after, model => (string?)model!["id"] == "models-qv-r8");
    }

    [Fact]
    public async Task LoadingWithoutAnAdapterStore_OrWithABadPath_IsAClientError()
    {
        var (status, body) = await Server.PostAsync("v1/load_lora_adapter", new { lora_name = "x", lora_path = "/etc" });

        // Without the store: 400 (the server serves the base only); with it: 403, the path is outside the adapter roots.
        Assert.True(status is 400 or 403, OpenAiTestServer.Show(body));
        Assert.NotNull((string?)body!["error"]!["message"]);
    }

    [Fact]
    public async Task UnloadingAnUnknownAdapter_Is404NamingLoraName()
    {
        var (status, body) = await Server.PostAsync("v1/unload_lora_adapter", new { lora_name = "never-loaded" });

        Assert.Equal(404, status);
        Assert.Equal("lora_name", (string?)body!["error"]!["param"]);
    }
}
