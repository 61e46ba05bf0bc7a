namespace InferServer.Jinja.Tests;

/// <summary>
/// Qwen3's chat template (ChatTemplates/qwen3-0.6b.jinja, the chat_template of the dense Qwen3 models' tokenizer_config.json)
/// with enable_thinking, the keyword argument transformers' apply_chat_template passes through: the expected prompts, written
/// out. The fixtures hold jinja2's rendering of the same cases for every conversation (make_chat_template_fixtures.py).
/// </summary>
public sealed class Qwen3ChatTemplateTests
{
    private static readonly JinjaTemplate Template = JinjaTemplate.Parse(ChatTemplateFixtures.Template("qwen3-0.6b"));

    [Theory]
    [InlineData(null, "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n")]
    [InlineData(true, "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n")]
    [InlineData(false, "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n")]
    public void Qwen3Template_EnableThinkingFalse_OpensTheAnswerWithAnEmptyThinkBlock(bool? enableThinking, string expected)
    {
        Assert.Equal(expected, Template.Render(Variables(enableThinking, ("user", "Hello!"))));
    }

    [Theory]
    [InlineData(true, "")]
    [InlineData(false, "<think>\n\n</think>\n\n")]
    public void Qwen3Template_DropsEarlierReasoningFromTheHistory_WhateverEnableThinkingSays(bool enableThinking, string opening)
    {
        var rendered = Template.Render(Variables(enableThinking,
            ("system", "Be brief."), ("user", "2+2?"), ("assistant", "<think>\nadd them\n</think>\n\nIt is 4."), ("user", "And 3+3?")));

        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\nIt is 4.<|im_end|>\n"
            + "<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n" + opening, rendered);
    }

    // As apply_chat_template(messages, add_generation_prompt=True, enable_thinking=...) calls the template; null leaves it undefined.
    private static Dictionary<string, object?> Variables(bool? enableThinking, params (string Role, string Content)[] messages)
    {
        var variables = new Dictionary<string, object?>
        {
            ["messages"] = messages.Select(m => new Dictionary<string, object?> { ["role"] = m.Role, ["content"] = m.Content }).ToList(),
            ["tools"] = null,
            ["documents"] = null,
            ["add_generation_prompt"] = true,
            ["eos_token"] = "<|im_end|>",
        };
        if (enableThinking is { } value)
        {
            variables["enable_thinking"] = value;
        }

        return variables;
    }
}
