namespace InferServer.Kernels.Tests.Structured;

/// <summary>
/// Schemas every structured-output test runs: nested objects, arrays of objects, enums, anyOf, oneOf, $ref (recursive
/// too), required/optional mixes, strings with length bounds, escapes and unicode in names and values. Shared (linked)
/// by the kernel tests and the server's API tests.
/// </summary>
public static class SchemaCorpus
{
    /// <summary>JsonSchema.Net's validator of <paramref name="schema"/>. Its 2020-12 dialect refuses the older
    /// "definitions" (which we accept beside "$defs"), so that spelling is moved to "$defs" first: the same schema.</summary>
    public static Json.Schema.JsonSchema Validator(string schema) =>
        Json.Schema.JsonSchema.FromText(schema.Replace("\"definitions\"", "\"$defs\"").Replace("#/definitions/", "#/$defs/"));

    public static readonly IReadOnlyList<(string Name, string Schema)> All =
    [
        ("boolean", """{"type":"boolean"}"""),
        ("integer", """{"type":"integer"}"""),
        ("short-string", """{"type":"string","maxLength":8}"""),
        ("bounded-string", """{"type":"string","minLength":2,"maxLength":5}"""),
        ("null-or-int", """{"type":["integer","null"]}"""),
        ("flat-object", """{"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer"}},"required":["name","age"],"additionalProperties":false}"""),
        ("optional-only", """{"type":"object","properties":{"a":{"type":"number"},"b":{"type":"boolean"}},"additionalProperties":false}"""),
        ("required-mix", """{"type":"object","properties":{"id":{"type":"integer"},"tag":{"type":"string","maxLength":6},"ok":{"type":"boolean"},"note":{"type":"null"}},"required":["id","ok"],"additionalProperties":false}"""),
        ("nested", """{"type":"object","properties":{"user":{"type":"object","properties":{"name":{"type":"string","maxLength":10},"address":{"type":"object","properties":{"city":{"type":"string","maxLength":10},"zip":{"type":"integer"}},"required":["city"],"additionalProperties":false}},"required":["name","address"],"additionalProperties":false}},"required":["user"],"additionalProperties":false}"""),
        ("array-of-ints", """{"type":"array","items":{"type":"integer"},"maxItems":5}"""),
        ("bounded-array", """{"type":"array","items":{"type":"boolean"},"minItems":2,"maxItems":3}"""),
        ("array-of-objects", """{"type":"array","maxItems":3,"items":{"type":"object","properties":{"x":{"type":"integer"},"y":{"type":"integer"}},"required":["x","y"],"additionalProperties":false}}"""),
        ("object-with-array", """{"type":"object","properties":{"tags":{"type":"array","items":{"type":"string","maxLength":5},"maxItems":4}},"required":["tags"],"additionalProperties":false}"""),
        ("tuple", """{"type":"array","prefixItems":[{"type":"string","maxLength":4},{"type":"integer"},{"type":"boolean"}],"items":false,"minItems":3}"""),
        ("string-enum", """{"type":"string","enum":["red","green","blue","reddish"]}"""),
        ("mixed-enum", """{"enum":["a",1,true,null,{"k":"v"},[1,2]]}"""),
        ("const", """{"const":{"version":2,"kind":"fixed"}}"""),
        ("enum-in-object", """{"type":"object","properties":{"status":{"enum":["open","closed","pending"]},"priority":{"type":"integer","enum":[1,2,3]}},"required":["status","priority"],"additionalProperties":false}"""),
        ("any-of", """{"anyOf":[{"type":"string","maxLength":6},{"type":"integer"},{"type":"object","properties":{"v":{"type":"boolean"}},"required":["v"],"additionalProperties":false}]}"""),
        ("any-of-objects", """{"anyOf":[{"type":"object","properties":{"kind":{"const":"circle"},"r":{"type":"number"}},"required":["kind","r"],"additionalProperties":false},{"type":"object","properties":{"kind":{"const":"square"},"side":{"type":"number"}},"required":["kind","side"],"additionalProperties":false}]}"""),
        ("one-of-discriminated", """{"oneOf":[{"type":"object","properties":{"kind":{"const":"cat"},"lives":{"type":"integer"}},"required":["kind","lives"],"additionalProperties":false},{"type":"object","properties":{"kind":{"const":"dog"},"good":{"type":"boolean"}},"required":["kind"],"additionalProperties":false}]}"""),
        ("one-of-types", """{"oneOf":[{"type":"string","maxLength":5},{"type":"number"},{"type":"null"}]}"""),
        ("ref-defs", """{"$defs":{"point":{"type":"object","properties":{"x":{"type":"integer"},"y":{"type":"integer"}},"required":["x","y"],"additionalProperties":false}},"type":"object","properties":{"from":{"$ref":"#/$defs/point"},"to":{"$ref":"#/$defs/point"}},"required":["from","to"],"additionalProperties":false}"""),
        ("ref-definitions", """{"definitions":{"flag":{"type":"boolean"}},"type":"array","items":{"$ref":"#/definitions/flag"},"maxItems":4}"""),
        ("recursive-tree", """{"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"kids":{"type":"array","maxItems":2,"items":{"$ref":"#/$defs/node"}}},"required":["v"],"additionalProperties":false}},"$ref":"#/$defs/node"}"""),
        ("recursive-list", """{"$defs":{"cell":{"anyOf":[{"type":"null"},{"type":"object","properties":{"head":{"type":"integer"},"tail":{"$ref":"#/$defs/cell"}},"required":["head","tail"],"additionalProperties":false}]}},"$ref":"#/$defs/cell"}"""),
        ("escaped-names", """{"type":"object","properties":{"quote\"d":{"type":"integer"},"back\\slash":{"type":"boolean"},"tab\tname":{"type":"null"}},"required":["quote\"d","back\\slash","tab\tname"],"additionalProperties":false}"""),
        ("unicode-names", """{"type":"object","properties":{"名前":{"type":"string","maxLength":6},"café":{"type":"integer"},"emoji😀":{"type":"boolean"}},"required":["名前","café","emoji😀"],"additionalProperties":false}"""),
        ("unicode-enum", """{"enum":["日本","naïve","😀 ok","tab\there","quote\"here"]}"""),
        ("additional-schema", """{"type":"object","properties":{"id":{"type":"integer"}},"required":["id"],"additionalProperties":{"type":"integer"}}"""),
        ("additional-default", """{"type":"object","properties":{"id":{"type":"integer"}},"required":["id"]}"""),
        ("number-forms", """{"type":"array","items":{"type":"number"},"minItems":1,"maxItems":4}"""),
        ("typeless-properties", """{"properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false}"""),
        ("deep-nesting", """{"type":"object","properties":{"a":{"type":"object","properties":{"b":{"type":"object","properties":{"c":{"type":"array","maxItems":2,"items":{"type":"object","properties":{"d":{"type":"boolean"}},"required":["d"],"additionalProperties":false}}},"required":["c"],"additionalProperties":false}},"required":["b"],"additionalProperties":false}},"required":["a"],"additionalProperties":false}"""),
        ("required-undeclared", """{"type":"object","properties":{"a":{"type":"integer"}},"required":["a","extra"],"additionalProperties":{"type":"boolean"}}"""),
    ];
}
