
namespace InferServer.Jinja.Tests;

/// <summary>What the fixtures cannot show: error locations, limits against runaway templates, and the cache.</summary>
public sealed class JinjaTemplateTests
{
    private static string Render(string source, Dictionary<string, object?>? variables = null, JinjaRenderOptions? options = null) =>
        JinjaTemplate.Parse(source).Render(variables ?? [], options);

    [Theory]
    [InlineData("line 1\n{% if %}", 2, 7)]
    [InlineData("{{ foo( }}", 1, 1)]
    [InlineData("ok\n\n  {% endfor %}", 3, 6)]
    [InlineData("{% for x in xs %}", 1, 18)]
    [InlineData("{{ 'unterminated }}", 1, 4)]
    [InlineData("{% frobnicate %}", 1, 4)]
    [InlineData("{{ x | no_such_filter }}", 1, 8)]
    [InlineData("{{ x is no_such_test }}", 1, 9)]
    [InlineData("{% break %}", 1, 4)]
    [InlineData("{% include 'other.jinja' %}", 1, 4)]
    public void SyntaxError_NamesLineAndColumn(string source, int line, int column)
    {
        var error = Assert.Throws<TemplateSyntaxException>(() => JinjaTemplate.Parse(source));
        Assert.Equal((line, column), (error.Line, error.Column));
        Assert.StartsWith($"line {line}, column {column}: ", error.Message);
    }

    [Fact]
    public void AttributeOfUndefined_IsARuntimeErrorNamingTheVariable_AndItsLocation()
    {
        var error = Assert.Throws<TemplateRuntimeException>(() => Render("a\n  {{ message.content.strip() }}"));
        Assert.Equal("'message' is undefined", error.Problem);
        Assert.Equal(2, error.Line);
    }

    [Fact]
    public void MissingDictionaryKey_IsUndefined_ButItsAttributeIsAnError()
    {
        var message = new Dictionary<string, object?> { ["role"] = "user" };
        Assert.Equal("False", Render("{{ m.tool_calls is defined }}", new() { ["m"] = message }));
        var error = Assert.Throws<TemplateRuntimeException>(() => Render("{{ m.tool_calls.name }}", new() { ["m"] = message }));
        Assert.Equal("'dict object' has no attribute 'tool_calls'", error.Problem);
    }

    [Fact]
    public void RaiseException_KeepsTheTemplatesMessage_AndLocation()
    {
        var error = Assert.Throws<TemplateRaisedException>(() => Render("x\n{{ raise_exception('roles must alternate') }}"));
        Assert.Equal("roles must alternate", error.Message);
        Assert.Equal(2, error.Line);
    }

    [Fact]
    public void RunawayLoop_StopsAtTheIterationLimit()
    {
        var options = new JinjaRenderOptions { MaxLoopIterations = 10_000 };
        var error = Assert.Throws<TemplateRuntimeException>(() =>
            Render("{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}", options: options));
        Assert.Contains("10000 loop iterations", error.Problem);
    }

    [Fact]
    public void DoublingAString_StopsAtTheSizeLimit()
    {
        var options = new JinjaRenderOptions { MaxOutputChars = 1 << 20 };
        var error = Assert.Throws<TemplateRuntimeException>(() =>
            Render("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}", options: options));
        Assert.Contains("beyond the limit", error.Problem);
        Assert.Throws<TemplateRuntimeException>(() => Render("{{ 'x' * 100000000 }}", options: options));
    }

    [Fact]
    public void LongOutput_StopsAtTheSizeLimit()
    {
        var options = new JinjaRenderOptions { MaxOutputChars = 1000 };
        Assert.Throws<TemplateRuntimeException>(() => Render("{% for i in range(2000) %}x{% endfor %}", options: options));
    }

    [Fact]
    public void RecursiveMacro_StopsAtTheCallDepthLimit()
    {
        var error = Assert.Throws<TemplateRuntimeException>(() => Render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"));
        Assert.Contains("deeper than 64", error.Problem);
    }

    [Fact]
    public void DeepNesting_IsRefusedAtParse()
    {
        var source = "{{ " + new string('(', 500) + "1" + new string(')', 500) + " }}";
        Assert.Throws<TemplateSyntaxException>(() => JinjaTemplate.Parse(source));
    }

    [Fact]
    public void ChainOfNots_IsRefusedAtParse()
    {
        var source = "{{ " + string.Concat(Enumerable.Repeat("not ", 30_000)) + "x }}";
        Assert.Throws<TemplateSyntaxException>(() => JinjaTemplate.Parse(source));
    }

    [Fact]
    public void DeepExpressionBuiltByALoop_FailsWithAnError_NotAStackOverflow()
    {
        // a ~ a ~ a ... parses in a loop but evaluates 100,000 levels deep; a stack overflow would end the process.
        var source = "{{ a" + string.Concat(Enumerable.Repeat(" ~ a", 100_000)) + " }}";
        Assert.Throws<TemplateRuntimeException>(() => Render(source, new() { ["a"] = "x" }));
    }

    [Fact]
    public void NamespaceHoldingItself_FailsToPrintWithAnError()
    {
        Assert.Throws<TemplateRuntimeException>(() => Render("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}"));
    }

    [Theory]
    [InlineData("{{ 2 ** 10 }}", "1024")]
    [InlineData("{{ 3 ** 0 }}", "1")]
    [InlineData("{{ 1 ** 9223372036854775807 }}", "1")]
    [InlineData("{{ (-1) ** 9223372036854775807 }}", "-1")]
    [InlineData("{{ 0 ** 9223372036854775807 }}", "0")]
    public void IntegerPower_IsExact_AndQuickForHugeExponents(string source, string expected)
    {
        Assert.Equal(expected, Render(source));
    }

    [Fact]
    public void IntegerPowerBeyond64Bits_IsAnError()
    {
        Assert.Throws<TemplateRuntimeException>(() => Render("{{ 2 ** 64 }}"));
    }

    [Fact]
    public void SortingValuesThatDoNotCompare_IsATemplateError()
    {
        var error = Assert.Throws<TemplateRuntimeException>(() => Render("{{ [1, 'a'] | sort }}"));
        Assert.Equal(1, error.Line);
    }

    [Fact]
    public void IntegerAttributeBeyond64Bits_IsASyntaxError()
    {
        Assert.Throws<TemplateSyntaxException>(() => JinjaTemplate.Parse("{{ x.99999999999999999999 }}"));
    }

    [Fact]
    public void SlowRender_StopsAtTheTimeLimit()
    {
        // Few iterations and small values, but each iteration scans a million items: only the clock stops it.
        var options = new JinjaRenderOptions { MaxRenderTime = TimeSpan.FromMilliseconds(100) };
        var error = Assert.Throws<TemplateRuntimeException>(() => Render(
            "{% set big = [0] * 1000000 %}{% for i in range(99999) %}{% if 1 in big %}{% endif %}{% endfor %}", options: options));
        Assert.Contains("ran longer than", error.Problem);
    }

    [Theory]
    [InlineData("{{ ('\n' * 100000) | indent(100, blank=true) }}")]
    [InlineData("{{ ('a' * 100000).replace('a', 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb') }}")]
    [InlineData("{{ ('-' * 100000).join(['a'] * 100) }}")]
    public void StringOperationsBeyondTheSizeLimit_AreRefusedBeforeBuildingTheString(string source)
    {
        var options = new JinjaRenderOptions { MaxOutputChars = 1 << 20 };
        var error = Assert.Throws<TemplateRuntimeException>(() => Render(source, options: options));
        Assert.Contains("beyond the limit", error.Problem);
    }

    [Fact]
    public void PrintingAListOfHugeStrings_StopsAtThePrintLimit()
    {
        var error = Assert.Throws<TemplateRuntimeException>(() => Render("{{ [('x' * 1000000)] * 100 }}"));
        Assert.Contains("too large to print", error.Problem);
    }

    [Fact]
    public void HugeRange_IsRefusedLikeJinja2sSandbox()
    {
        var error = Assert.Throws<TemplateRuntimeException>(() => Render("{% for i in range(1000000) %}{% endfor %}"));
        Assert.Contains("range too big", error.Problem);
    }

    [Fact]
    public void StrftimeNow_FormatsTheClocksLocalTime()
    {
        var time = new ManualTimeProvider(new DateTimeOffset(2024, 7, 5, 9, 3, 0, TimeSpan.Zero));
        var options = new JinjaRenderOptions { Time = time };
        Assert.Equal("05 Jul 2024|July 5 2024 09:03", Render("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%B %-d %Y %H:%M') }}", options: options));
    }

    [Fact]
    public void Cache_ParsesASourceOnce_AndRemembersItsSyntaxError()
    {
        var source = "{{ 'cached' }}" + Guid.NewGuid();
        Assert.Same(JinjaTemplateCache.Get(source), JinjaTemplateCache.Get(source));
        var broken = "{% if %}" + Guid.NewGuid();
        var first = Assert.Throws<TemplateSyntaxException>(() => JinjaTemplateCache.Get(broken));
        Assert.Same(first, Assert.Throws<TemplateSyntaxException>(() => JinjaTemplateCache.Get(broken)));
    }

    [Fact]
    public void ATemplate_RendersFromSeveralThreadsAtOnce()
    {
        var template = JinjaTemplate.Parse("{% for m in messages %}{{ m.content }}{% if not loop.last %},{% endif %}{% endfor %}");
        Parallel.For(0, 64, i =>
        {
            var messages = Enumerable.Range(0, i % 5 + 1).Select(n => new Dictionary<string, object?> { ["content"] = $"{i}-{n}" }).ToList();
            Assert.Equal(string.Join(",", messages.Select(m => m["content"])), template.Render(new Dictionary<string, object?> { ["messages"] = messages }));
        });
    }
}
