namespace InferServer.Jinja.Tests;

/// <summary>
/// Gemma's chat templates (ChatTemplates/gemma-2-2b-it.jinja and gemma-3-4b-it.jinja, as the instruction-tuned models'
/// tokenizer_config.json ship them): the one difference a client sees, a system message, written out. Gemma 3 folds it
/// into the first user turn followed by a blank line; Gemma 2 refuses it. The fixtures hold jinja2's rendering of every
/// conversation for both (make_chat_template_fixtures.py).
/// </summary>
public sealed class GemmaChatTemplateTests
{
    private static readonly JinjaTemplate Gemma2 = JinjaTemplate.Parse(ChatTemplateFixtures.Template("gemma-2-2b-it"));
    private static readonly JinjaTemplate Gemma3 = JinjaTemplate.Parse(ChatTemplateFixtures.Template("gemma-3-4b-it"));

    [Fact]
    public void Gemma3Template_FoldsTheSystemMessageIntoTheFirstUserTurn_Trimmed_AndOpensAModelTurn()
    {
        var rendered = Gemma3.Render(Variables(("system", "Be brief."), ("user", " 2+2? "), ("assistant", "4"), ("user", "And 3+3?")));

        Assert.Equal("<bos><start_of_turn>user\nBe brief.\n\n2+2?<end_of_turn>\n<start_of_turn>model\n4<end_of_turn>\n"
            + "<start_of_turn>user\nAnd 3+3?<end_of_turn>\n<start_of_turn>model\n", rendered);
    }

    [Fact]
    public void Gemma2Template_RefusesTheSameSystemMessage()
    {
        var raised = Assert.Throws<TemplateRaisedException>(() => Gemma2.Render(Variables(("system", "Be brief."), ("user", "2+2?"))));

        Assert.Equal("System role not supported", raised.Message);
    }

    [Fact]
    public void Gemma3Template_ReadsTextParts_AsOpenAIsContentArrayGivesThem()
    {
        var parts = new List<object?>
        {
            new Dictionary<string, object?> { ["type"] = "text", ["text"] = " Hello " },
            new Dictionary<string, object?> { ["type"] = "text", ["text"] = "there" },
        };
        var variables = Variables();
        variables["messages"] = new List<object?> { new Dictionary<string, object?> { ["role"] = "user", ["content"] = parts } };

        Assert.Equal("<bos><start_of_turn>user\nHellothere<end_of_turn>\n<start_of_turn>model\n", Gemma3.Render(variables));
    }

    // As apply_chat_template(messages, add_generation_prompt=True) calls the template with Gemma's special tokens.
    private static Dictionary<string, object?> Variables(params (string Role, string Content)[] messages) => new()
    {
        ["messages"] = messages.Select(m => (object?)new Dictionary<string, object?> { ["role"] = m.Role, ["content"] = m.Content }).ToList(),
        ["tools"] = null,
        ["documents"] = null,
        ["add_generation_prompt"] = true,
        ["bos_token"] = "<bos>",
        ["eos_token"] = "<eos>",
    };
}
