using System.Text;
using InferServer.Kernels.Structured;
using Json.Schema;

namespace InferServer.Kernels.Tests.Structured;

public sealed class JsonGrammarTests
{
    private static bool Accepts(string schema, string json) =>
        JsonSchemaCompiler.Compile(schema).Start.Advance(Encoding.UTF8.GetBytes(json)) is { IsAccepting: true };

    [Theory]
    [InlineData("""{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false}""", """{"a":12}""", true)]
    [InlineData("""{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false}""", """{ "a" : -0 }""", true)]
    [InlineData("""{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false}""", """{}""", false)]
    [InlineData("""{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false}""", """{"a":1.5}""", false)]
    [InlineData("""{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false}""", """{"a":1,"a":2}""", false)]
    [InlineData("""{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false}""", """{"a":1,"b":2}""", false)]
    [InlineData("""{"type":"object","properties":{"a":{"type":"integer"}}}""", """{"zz":[true,{"q":null}],"a":3}""", true)]
    [InlineData("""{"type":"number"}""", "-12.5e+3", true)]
    [InlineData("""{"type":"number"}""", "012", false)]
    [InlineData("""{"type":"number"}""", "1.", false)]
    [InlineData("""{"type":"string","minLength":2,"maxLength":3}""", "\"ab\"", true)]
    [InlineData("""{"type":"string","minLength":2,"maxLength":3}""", "\"abcd\"", false)]
    [InlineData("""{"type":"string","minLength":2,"maxLength":3}""", "\"a\"", false)]
    [InlineData("""{"type":"string"}""", "\"caf\u00e9 \\u00e9 \\n \\\" \ud83d\ude00\"", true)]
    [InlineData("""{"type":"string"}""", "\"\\ud800\"", false)]
    [InlineData("""{"type":"string"}""", "\"a\nb\"", false)]
    [InlineData("""{"enum":["red","reddish"]}""", "\"reddish\"", true)]
    [InlineData("""{"enum":["red","reddish"]}""", "\"redd\"", false)]
    [InlineData("""{"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":2}""", "[1,2]", true)]
    [InlineData("""{"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":2}""", "[1,2,3]", false)]
    [InlineData("""{"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":2}""", "[]", false)]
    [InlineData("""{"type":"array","prefixItems":[{"type":"string"},{"type":"null"}],"items":false}""", "[\"x\",null]", true)]
    [InlineData("""{"type":"array","prefixItems":[{"type":"string"},{"type":"null"}],"items":false}""", "[\"x\",null,1]", false)]
    [InlineData("""{"type":"boolean"}""", "true ", false)]
    [InlineData("""{"type":"boolean"}""", " true", false)]
    public void TheAutomaton_AcceptsExactlyTheValidTexts(string schema, string json, bool valid) => Assert.Equal(valid, Accepts(schema, json));

    [Theory]
    [InlineData("""{"type":"string","pattern":"^a+$"}""", "pattern", "#")]
    [InlineData("""{"type":"object","properties":{"zip":{"type":"string","format":"email"}}}""", "format", "#/properties/zip")]
    [InlineData("""{"type":"object","properties":{"n":{"type":"integer","minimum":0}}}""", "minimum", "#/properties/n")]
    [InlineData("""{"type":"array","items":{"type":"number","maximum":3}}""", "maximum", "#/items")]
    [InlineData("""{"allOf":[{"type":"string"}]}""", "allOf", "#")]
    [InlineData("""{"oneOf":[{"type":"string"},{"type":"string","maxLength":2}]}""", "oneOf", "#/oneOf")]
    [InlineData("""{"oneOf":[{"type":"object","properties":{"k":{"const":1}},"required":["k"]},{"type":"object","properties":{"k":{"type":"integer"}},"required":["k"]}]}""", "oneOf", "#/oneOf")]
    [InlineData("""{"oneOf":[{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]},{"type":"object","properties":{"b":{"type":"string"}}}]}""", "oneOf", "#/oneOf")]
    [InlineData("""{"$ref":"#/$defs/missing"}""", "$ref", "#")]
    [InlineData("""{"$ref":"https://example.com/s.json"}""", "$ref", "#")]
    [InlineData("""{"type":"object","required":["x"],"additionalProperties":false}""", "required", "#")]
    [InlineData("""{"type":"array","items":false,"minItems":1}""", "minItems", "#")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"string","minLength":3,"maxLength":2}}}""", "minLength", "#/properties/a")]
    [InlineData("""{"type":"objekt"}""", "type", "#")]
    [InlineData("""{"$defs":{"a":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}""", "$ref", "#/$defs/a")]
    [InlineData("""{"anyOf":[{"type":"string"}],"type":"string"}""", "type", "#")]
    public void UnsupportedOrUnsatisfiableSchemas_AreRefusedNamingKeywordAndPath(string schema, string keyword, string path)
    {
        var refused = Assert.Throws<UnsupportedSchemaException>(() => JsonSchemaCompiler.Compile(schema));

        Assert.Equal(keyword, refused.Keyword);
        Assert.Equal(path, refused.Path);
        Assert.Contains(keyword, refused.Message);
    }

    [Fact]
    public void ASchemaOverTheCaps_IsRefused()
    {
        var wide = "{\"type\":\"object\",\"properties\":{" + string.Join(",", Enumerable.Range(0, 65).Select(i => $"\"p{i}\":{{\"type\":\"integer\"}}")) + "}}";
        Assert.Equal("properties", Assert.Throws<UnsupportedSchemaException>(() => JsonSchemaCompiler.Compile(wide)).Keyword);
        var huge = "{\"description\":\"" + new string('x', StructuredLimits.MaxSchemaChars) + "\"}";
        Assert.Equal("schema", Assert.Throws<UnsupportedSchemaException>(() => JsonSchemaCompiler.Compile(huge)).Keyword);
    }

    [Fact]
    public void TheCache_CompilesASchemaTextOnce()
    {
        var schema = """{"type":"object","properties":{"cached":{"type":"boolean"}}}""";
        Assert.Same(JsonGrammarCache.Get(schema), JsonGrammarCache.Get(schema));
    }

    /// <summary>A synthetic vocabulary: every byte alone, plus multi-byte tokens that straddle JSON boundaries.</summary>
    private static readonly byte[]?[] Vocabulary =
    [
        .. Enumerable.Range(0, 256).Select(b => new[] { (byte)b }),
        .. new[]
        {
            "{\"", "\":", "\",", "\"}", "},", "}]", "[{", "true", "false", "null", "12", "0.", "e+", "  ", "\n  ", ", \"", "\":\"",
            "name", "red", "reddish", "日本", "😀", "\\n", "\\u00", "é", "ab", "abc", "abcdef", "\"a\"", "1,", "]}", "{}", "[]",
        }.Select(Encoding.UTF8.GetBytes),
        null,
    ];

    [Fact]
    public void TheTrieMask_EqualsWalkingEveryTokenAlone_AlongRandomPaths()
    {
        var trie = new TokenTrie(Vocabulary);
        var random = new Random(7);
        foreach (var (_, schema) in SchemaCorpus.All)
        {
            var matcher = JsonSchemaCompiler.Compile(schema).NewMatcher();
            for (var step = 0; step < 40 && !matcher.IsFinished; step++)
            {
                var mask = new bool[Vocabulary.Length];
                matcher.FillMask(trie, mask, []);
                for (var id = 0; id < Vocabulary.Length; id++)
                {
                    var reference = Vocabulary[id] is { } bytes && matcher.State.Advance(bytes) is not null;
                    Assert.True(reference == mask[id], $"{schema}: token {id} mask {mask[id]}, reference {reference}");
                }
                var allowed = Enumerable.Range(0, Vocabulary.Length).Where(id => mask[id]).ToArray();
                if (allowed.Length == 0)
                {
                    // Only end-of-text could follow (a top-level number at its digit cap), and none was offered.
                    Assert.True(matcher.IsAccepting, schema);
                    break;
                }

                Assert.True(matcher.Accept(Vocabulary[allowed[random.Next(allowed.Length)]]));
            }
        }
    }

    [Fact]
    public void RandomWalksThatComplete_ValidateAgainstTheirSchema_ForEveryCorpusSchema()
    {
        var trie = new TokenTrie(Vocabulary);
        const int endOfText = 256 + 33;
        var total = 0;
        foreach (var (name, schema) in SchemaCorpus.All)
        {
            var validator = SchemaCorpus.Validator(schema);
            var completed = 0;
            for (var walk = 0; walk < 40; walk++)
            {
                var random = new Random(walk);
                var matcher = JsonSchemaCompiler.Compile(schema).NewMatcher();
                var text = new List<byte>();
                for (var step = 0; step < 400 && !matcher.IsFinished; step++)
                {
                    var mask = new bool[Vocabulary.Length];
                    matcher.FillMask(trie, mask, [endOfText]);
                    var allowed = Enumerable.Range(0, Vocabulary.Length).Where(id => mask[id]).ToArray();
                    Assert.True(allowed.Length > 0, $"{name}: no token allowed after {Encoding.UTF8.GetString([.. text])}");
                    // Structure over content: closing and separating tokens are favoured so that walks end.
                    var closers = allowed.Where(id => id == endOfText || Vocabulary[id] is [(byte)'}' or (byte)']' or (byte)'"' or (byte)',', ..]).ToArray();
                    var id = closers.Length > 0 && random.NextDouble() < 0.3 ? closers[random.Next(closers.Length)] : allowed[random.Next(allowed.Length)];
                    if (id == endOfText)
                    {
                        break;
                    }

                    Assert.True(matcher.Accept(Vocabulary[id]));
                    text.AddRange(Vocabulary[id]!);
                }
                if (!matcher.IsAccepting)
                {
                    continue;
                }

                completed++;
                var json = Encoding.UTF8.GetString([.. text]);
                using var document = System.Text.Json.JsonDocument.Parse(json);
                var result = validator.Evaluate(document.RootElement);
                Assert.True(result.IsValid, $"{name}: {json}");
            }
            total += completed;
        }
        // Uniform walks rarely spell a required key among free additional keys, so not every schema completes often;
        // over the corpus most walks must, or the validation above would prove little.
        Assert.True(total >= SchemaCorpus.All.Count * 20, $"only {total} of {SchemaCorpus.All.Count * 40} walks completed");
    }
}
