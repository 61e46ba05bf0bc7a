using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace InferServer.Kernels.Structured;

/// <summary>
/// Compiles a JSON Schema (draft 2020-12 keywords, the subset structured outputs use) to the nodes the byte automaton
/// walks. Supported: type (one or a list), properties, required, additionalProperties (false, true or a schema),
/// enum, const, items (a schema or false), prefixItems, minItems, maxItems, anyOf, oneOf (only when its alternatives
/// can never both match — different types, different literals, or objects with a discriminating property — so that
/// generating any one keeps "exactly one" true), $ref to "#", "#/$defs/…" or
/// "#/definitions/…" (recursion allowed, bounded by <see cref="StructuredLimits.MaxValueDepth"/>), null, string
/// minLength/maxLength, number and integer without ranges; annotations (title, description, default, examples, …) are
/// ignored as validators ignore them. Every other keyword (pattern, format, minimum, maximum, multipleOf, allOf, not,
/// if, patternProperties, uniqueItems, …) is refused with its JSON pointer: a constraint we cannot enforce must not
/// look enforced.
/// </summary>
public static class JsonSchemaCompiler
{
    private static readonly HashSet<string> Annotations =
    [
        "title", "description", "$schema", "$id", "$comment", "examples", "default", "deprecated", "readOnly", "writeOnly", "$defs", "definitions",
    ];

    private static readonly HashSet<string> Structural =
    [
        "type", "properties", "required", "additionalProperties", "enum", "const", "items", "prefixItems", "minItems", "maxItems",
        "anyOf", "oneOf", "$ref", "minLength", "maxLength",
    ];

    private static readonly string[] ObjectKeywords = ["properties", "required", "additionalProperties"];
    private static readonly string[] ArrayKeywords = ["items", "prefixItems", "minItems", "maxItems"];
    private static readonly string[] StringKeywords = ["minLength", "maxLength"];

    internal static readonly JsonSerializerOptions CompactJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, WriteIndented = false };

    /// <summary>The grammar of one schema. Throws <see cref="UnsupportedSchemaException"/>.</summary>
    public static JsonGrammar Compile(string schemaText)
    {
        ArgumentNullException.ThrowIfNull(schemaText);
        if (schemaText.Length > StructuredLimits.MaxSchemaChars)
        {
            throw new UnsupportedSchemaException("#", "schema", $"{schemaText.Length} characters exceed the limit of {StructuredLimits.MaxSchemaChars}");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(schemaText, new JsonDocumentOptions { MaxDepth = StructuredLimits.MaxSchemaDepth });
        }
        catch (JsonException error)
        {
            throw new UnsupportedSchemaException("#", "schema", $"is not valid JSON (or nests deeper than {StructuredLimits.MaxSchemaDepth}): {error.Message}");
        }
        using (document)
        {
            var compiler = new Compiler(document.RootElement);
            return new JsonGrammar(compiler.Root(), schemaText);
        }
    }

    /// <summary>
    /// The grammar of <paramref name="prefix"/>, then one value of the schema, then <paramref name="suffix"/>, byte for
    /// byte: a tool call in its model's own syntax (Hermes' "&lt;tool_call&gt;\n" … "\n&lt;/tool_call&gt;"). Either may be
    /// empty. Throws <see cref="UnsupportedSchemaException"/>.
    /// </summary>
    public static JsonGrammar Compile(string schemaText, string prefix, string suffix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(suffix);
        var value = Compile(schemaText);
        if (prefix.Length == 0 && suffix.Length == 0)
        {
            return value;
        }

        var parts = new List<SchemaNode>(3);
        if (prefix.Length > 0)
        {
            parts.Add(new LiteralNode(Encoding.UTF8.GetBytes(prefix)));
        }

        parts.Add(value.Root);
        if (suffix.Length > 0)
        {
            parts.Add(new LiteralNode(Encoding.UTF8.GetBytes(suffix)));
        }

        return new JsonGrammar(new SequenceNode([.. parts]), CacheKey(schemaText, prefix, suffix));
    }

    /// <summary>What identifies a wrapped grammar: the schema text alone when there is no fixed text around it.</summary>
    internal static string CacheKey(string schemaText, string prefix, string suffix) =>
        prefix.Length == 0 && suffix.Length == 0 ? schemaText : string.Concat(prefix, "\u0000", schemaText, "\u0000", suffix);

    /// <summary>Any JSON object, values nested to <see cref="StructuredLimits.MaxValueDepth"/> (OpenAI's json_object mode).</summary>
    public static JsonGrammar JsonObject { get; } = new(AnyValue.Object, "{\"type\":\"object\"}");

    /// <summary>The shared nodes of "any JSON value".</summary>
    internal static class AnyValue
    {
        private static readonly (UnionNode Value, ObjectNode Object) Nodes = Create();

        public static UnionNode Value => Nodes.Value;

        public static ObjectNode Object => Nodes.Object;

        private static (UnionNode, ObjectNode) Create()
        {
            var any = new UnionNode([]);
            var anyObject = new ObjectNode([], [], [], 0, any);
            any.Options =
            [
                anyObject, new ArrayNode([], any, 0, int.MaxValue), new StringNode(0, int.MaxValue), new NumberNode(false),
                new LiteralNode("true"u8.ToArray()), new LiteralNode("false"u8.ToArray()), new LiteralNode("null"u8.ToArray()),
            ];
            return (any, anyObject);
        }
    }

    private sealed class Compiler(JsonElement root)
    {
        private readonly Dictionary<string, RefNode> references = new(StringComparer.Ordinal);
        private readonly Queue<(RefNode Node, JsonElement Target, string Path)> pending = new();
        private int nodes;

        public SchemaNode Root()
        {
            var node = Compile(root, "#");
            while (pending.TryDequeue(out var reference))
            {
                reference.Node.Target = Compile(reference.Target, reference.Path);
            }
            foreach (var (pointer, reference) in references)
            {
                if (Resolves(reference, 0) is false)
                {
                    throw new UnsupportedSchemaException(pointer, "$ref", "refers to itself without nesting an object or array");
                }
            }
            return node;
        }

        // A $ref chain must reach a node that is not a $ref.
        private static bool Resolves(RefNode reference, int hops) =>
            hops < StructuredLimits.MaxExpansionHops && (reference.Target is not RefNode next || Resolves(next, hops + 1));

        private T Count<T>(T node, string path) where T : SchemaNode
        {
            if (++nodes > StructuredLimits.MaxNodes)
            {
                throw new UnsupportedSchemaException(path, "schema", $"compiles to more than {StructuredLimits.MaxNodes} nodes");
            }
            return node;
        }

        private SchemaNode Compile(JsonElement schema, string path)
        {
            if (schema.ValueKind == JsonValueKind.True)
            {
                return AnyValue.Value;
            }

            if (schema.ValueKind != JsonValueKind.Object)
            {
                throw new UnsupportedSchemaException(path, "schema", schema.ValueKind == JsonValueKind.False
                    ? "is false: no value can match it"
                    : "must be a JSON object or true");
            }

            var keywords = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            foreach (var property in schema.EnumerateObject())
            {
                if (!Annotations.Contains(property.Name) && !Structural.Contains(property.Name))
                {
                    throw new UnsupportedSchemaException(path, property.Name, "is not supported by constrained decoding");
                }

                if (Structural.Contains(property.Name))
                {
                    keywords[property.Name] = property.Value;
                }
            }

            if (keywords.TryGetValue("$ref", out var reference))
            {
                OnlyWith(keywords, path, "$ref");
                return Reference(reference, path);
            }

            foreach (var combinator in new[] { "anyOf", "oneOf" })
            {
                if (keywords.TryGetValue(combinator, out var options))
                {
                    OnlyWith(keywords, path, combinator);
                    return Alternatives(options, $"{path}/{combinator}", combinator);
                }
            }

            var types = Types(keywords, path);
            if (keywords.ContainsKey("enum") || keywords.ContainsKey("const"))
            {
                return Literals(keywords, types, path);
            }

            if (types is null)
            {
                var implied = new List<string>();
                if (ObjectKeywords.Any(keywords.ContainsKey))
                {
                    implied.Add("object");
                }

                if (ArrayKeywords.Any(keywords.ContainsKey))
                {
                    implied.Add("array");
                }

                if (StringKeywords.Any(keywords.ContainsKey))
                {
                    implied.Add("string");
                }

                if (implied.Count == 0)
                {
                    return AnyValue.Value;
                }

                if (implied.Count > 1)
                {
                    throw new UnsupportedSchemaException(path, "type", $"is missing while keywords of {string.Join(" and ", implied)} are present; say which type");
                }

                types = implied;
            }
            var alternatives = types.Select(type => Typed(type, keywords, path)).ToArray();
            return alternatives.Length == 1 ? alternatives[0] : Count(new UnionNode(alternatives), path);
        }

        private static void OnlyWith(Dictionary<string, JsonElement> keywords, string path, string keyword)
        {
            foreach (var other in keywords.Keys)
            {
                if (other != keyword)
                {
                    throw new UnsupportedSchemaException(path, other, $"beside {keyword} is not supported; move it into the {keyword} alternatives");
                }
            }
        }

        private static List<string>? Types(Dictionary<string, JsonElement> keywords, string path)
        {
            if (!keywords.TryGetValue("type", out var type))
            {
                return null;
            }

            var names = type.ValueKind switch
            {
                JsonValueKind.String => [type.GetString()!],
                JsonValueKind.Array when type.GetArrayLength() > 0 && type.EnumerateArray().All(item => item.ValueKind == JsonValueKind.String) =>
                    type.EnumerateArray().Select(item => item.GetString()!).Distinct().ToList(),
                _ => throw new UnsupportedSchemaException(path, "type", "must be a type name or a non-empty list of them"),
            };
            foreach (var name in names)
            {
                if (name is not ("object" or "array" or "string" or "number" or "integer" or "boolean" or "null"))
                {
                    throw new UnsupportedSchemaException(path, "type", $"'{name}' is not a JSON Schema type");
                }
            }
            // number includes integer: generating either satisfies both, so the pair is one alternative.
            if (names.Contains("number"))
            {
                names.Remove("integer");
            }

            return names;
        }

        private SchemaNode Typed(string type, Dictionary<string, JsonElement> keywords, string path) => type switch
        {
            "object" => Object(keywords, path),
            "array" => Array(keywords, path),
            "string" => String(keywords, path),
            "number" => Count(new NumberNode(false), path),
            "integer" => Count(new NumberNode(true), path),
            "boolean" => Count(new UnionNode([new LiteralNode("true"u8.ToArray()), new LiteralNode("false"u8.ToArray())]), path),
            _ => Count(new LiteralNode("null"u8.ToArray()), path),
        };

        private SchemaNode Object(Dictionary<string, JsonElement> keywords, string path)
        {
            var names = new List<string>();
            var values = new List<SchemaNode>();
            if (keywords.TryGetValue("properties", out var properties))
            {
                if (properties.ValueKind != JsonValueKind.Object)
                {
                    throw new UnsupportedSchemaException(path, "properties", "must be an object of schemas");
                }

                foreach (var property in properties.EnumerateObject())
                {
                    names.Add(property.Name);
                    values.Add(Compile(property.Value, $"{path}/properties/{Escape(property.Name)}"));
                }
            }
            SchemaNode? additional = AnyValue.Value;
            if (keywords.TryGetValue("additionalProperties", out var extra))
            {
                additional = extra.ValueKind == JsonValueKind.False ? null : Compile(extra, $"{path}/additionalProperties");
            }

            var required = new List<string>();
            if (keywords.TryGetValue("required", out var requiredList))
            {
                if (requiredList.ValueKind != JsonValueKind.Array || requiredList.EnumerateArray().Any(item => item.ValueKind != JsonValueKind.String))
                {
                    throw new UnsupportedSchemaException(path, "required", "must be a list of property names");
                }

                required.AddRange(requiredList.EnumerateArray().Select(item => item.GetString()!).Distinct());
            }
            foreach (var name in required.Where(name => !names.Contains(name)))
            {
                // A required key the schema does not declare is an additional property that must be present.
                names.Add(name);
                values.Add(additional ?? throw new UnsupportedSchemaException(path, "required",
                    $"names '{name}', which is not in properties while additionalProperties is false: no object can match"));
            }
            if (names.Count > StructuredLimits.MaxProperties)
            {
                throw new UnsupportedSchemaException(path, "properties", $"{names.Count} properties exceed the limit of {StructuredLimits.MaxProperties}");
            }

            var mask = 0UL;
            foreach (var name in required)
            {
                mask |= 1UL << names.IndexOf(name);
            }

            var encoded = names.Select(name => JsonText.EncodeStringContent(name)).ToArray();
            return Count(new ObjectNode([.. names], encoded, [.. values], mask, additional), path);
        }

        private SchemaNode Array(Dictionary<string, JsonElement> keywords, string path)
        {
            var prefix = new List<SchemaNode>();
            if (keywords.TryGetValue("prefixItems", out var prefixItems))
            {
                if (prefixItems.ValueKind != JsonValueKind.Array)
                {
                    throw new UnsupportedSchemaException(path, "prefixItems", "must be a list of schemas");
                }

                var index = 0;
                foreach (var item in prefixItems.EnumerateArray())
                {
                    prefix.Add(Compile(item, $"{path}/prefixItems/{index++}"));
                }
            }
            SchemaNode? items = AnyValue.Value;
            if (keywords.TryGetValue("items", out var itemSchema))
            {
                items = itemSchema.ValueKind == JsonValueKind.False ? null : Compile(itemSchema, $"{path}/items");
            }

            var minItems = Bound(keywords, "minItems", path) ?? 0;
            var maxItems = Bound(keywords, "maxItems", path) ?? int.MaxValue;
            var possible = items is null ? Math.Min(maxItems, prefix.Count) : maxItems;
            if (minItems > possible)
            {
                throw new UnsupportedSchemaException(path, "minItems", $"{minItems} exceeds the {possible} items the array can hold");
            }

            return Count(new ArrayNode([.. prefix], items, minItems, maxItems), path);
        }

        private SchemaNode String(Dictionary<string, JsonElement> keywords, string path)
        {
            var minLength = Bound(keywords, "minLength", path) ?? 0;
            var maxLength = Bound(keywords, "maxLength", path) ?? int.MaxValue;
            if (minLength > maxLength)
            {
                throw new UnsupportedSchemaException(path, "minLength", $"{minLength} exceeds maxLength {maxLength}");
            }

            return Count(new StringNode(minLength, maxLength), path);
        }

        private static int? Bound(Dictionary<string, JsonElement> keywords, string keyword, string path)
        {
            if (!keywords.TryGetValue(keyword, out var value))
            {
                return null;
            }

            return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var bound) && bound >= 0
                ? bound
                : throw new UnsupportedSchemaException(path, keyword, "must be a non-negative integer");
        }

        private SchemaNode Literals(Dictionary<string, JsonElement> keywords, List<string>? types, string path)
        {
            foreach (var other in keywords.Keys)
            {
                if (other is not ("enum" or "const" or "type"))
                {
                    throw new UnsupportedSchemaException(path, other, "beside enum or const is not supported");
                }
            }
            var keyword = keywords.ContainsKey("const") ? "const" : "enum";
            var values = keyword == "const" ? [keywords["const"]] : keywords["enum"] switch
            {
                { ValueKind: JsonValueKind.Array } list => list.EnumerateArray().ToList(),
                _ => throw new UnsupportedSchemaException(path, "enum", "must be a list of values"),
            };
            if (values.Count > StructuredLimits.MaxEnumValues)
            {
                throw new UnsupportedSchemaException(path, "enum", $"{values.Count} values exceed the limit of {StructuredLimits.MaxEnumValues}");
            }
            // With type beside it, only the values of that type can validate.
            var kept = values.Where(value => types is null || types.Any(type => HasType(value, type))).ToList();
            if (kept.Count == 0)
            {
                throw new UnsupportedSchemaException(path, keyword, "has no value of the schema's type: no value can match");
            }

            var literals = kept.Select(value => (SchemaNode)Count(new LiteralNode(JsonSerializer.SerializeToUtf8Bytes(value, CompactJson)), path))
                .DistinctBy(node => Encoding.UTF8.GetString(((LiteralNode)node).Bytes)).ToArray();
            return literals.Length == 1 ? literals[0] : Count(new UnionNode(literals), path);
        }

        private static bool HasType(JsonElement value, string type) => (type, value.ValueKind) switch
        {
            ("object", JsonValueKind.Object) or ("array", JsonValueKind.Array) or ("string", JsonValueKind.String) or ("number", JsonValueKind.Number)
                or ("boolean", JsonValueKind.True or JsonValueKind.False) or ("null", JsonValueKind.Null) => true,
            ("integer", JsonValueKind.Number) => value.TryGetDecimal(out var number) && number == decimal.Truncate(number),
            _ => false,
        };

        private SchemaNode Alternatives(JsonElement options, string path, string combinator)
        {
            if (options.ValueKind != JsonValueKind.Array || options.GetArrayLength() == 0)
            {
                throw new UnsupportedSchemaException(path, combinator, "must be a non-empty list of schemas");
            }

            var compiled = options.EnumerateArray().Select((option, index) => Compile(option, $"{path}/{index}")).ToArray();
            if (combinator == "oneOf")
            {
                // Generating one alternative keeps "exactly one matches" only if no value can match two of them.
                for (var i = 0; i < compiled.Length; i++)
                {
                    for (var j = i + 1; j < compiled.Length; j++)
                    {
                        if (MayOverlap(compiled[i], compiled[j]))
                        {
                            throw new UnsupportedSchemaException(path, "oneOf",
                                $"alternatives {i} and {j} may both match one value; use anyOf, or make them differ in type or in const/enum values");
                        }
                    }
                }
            }
            return compiled.Length == 1 ? compiled[0] : Count(new UnionNode(compiled), path);
        }

        private SchemaNode Reference(JsonElement reference, string path)
        {
            var pointer = reference.ValueKind == JsonValueKind.String ? reference.GetString()! : "";
            if (references.TryGetValue(pointer, out var known))
            {
                return known;
            }

            if (!pointer.StartsWith('#'))
            {
                throw new UnsupportedSchemaException(path, "$ref", $"'{pointer}' is not a reference inside this schema (#, #/$defs/… or #/definitions/…)");
            }

            var target = root;
            foreach (var part in pointer[1..].Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                var name = part.Replace("~1", "/").Replace("~0", "~");
                if (target.ValueKind != JsonValueKind.Object || !target.TryGetProperty(name, out target))
                {
                    throw new UnsupportedSchemaException(path, "$ref", $"'{pointer}' does not resolve");
                }
            }
            var node = Count(new RefNode(), path);
            references[pointer] = node;
            pending.Enqueue((node, target, pointer));
            return node;
        }

        private static string Escape(string name) => name.Replace("~", "~0").Replace("/", "~1");
    }

    /// <summary>True unless the two nodes provably accept disjoint sets of values: different JSON types, different
    /// literals, or objects told apart by a property (required by one, and either forbidden by the other or required
    /// there too with values of disjoint kinds: a discriminator such as "kind": {"const": "circle"}).</summary>
    private static bool MayOverlap(SchemaNode a, SchemaNode b)
    {
        if (Resolve(a) is ObjectNode objectA && Resolve(b) is ObjectNode objectB && (Discriminated(objectA, objectB) || Discriminated(objectB, objectA)))
        {
            return false;
        }

        return KindsOverlap(Kinds(a, 0), Kinds(b, 0));
    }

    private static SchemaNode Resolve(SchemaNode node)
    {
        for (var hops = 0; hops < StructuredLimits.MaxExpansionHops && node is RefNode { Target: { } target }; hops++)
        {
            node = target;
        }
        return node;
    }

    private static bool Discriminated(ObjectNode a, ObjectNode b)
    {
        for (var i = 0; i < a.Names.Length; i++)
        {
            if ((a.RequiredMask & (1UL << i)) == 0)
            {
                continue;
            }

            var j = Array.IndexOf(b.Names, a.Names[i]);
            if (j < 0 ? b.Additional is null : (b.RequiredMask & (1UL << j)) != 0 && !KindsOverlap(Kinds(a.Values[i], 0), Kinds(b.Values[j], 0)))
            {
                return true;
            }
        }
        return false;
    }

    private static bool KindsOverlap(HashSet<string> kindsA, HashSet<string> kindsB)
    {
        foreach (var kind in kindsA)
        {
            if (kindsB.Contains(kind))
            {
                return true;
            }
            // A literal overlaps the whole type it belongs to ("l:string:\"a\"" against "t:string").
            if (kind.StartsWith("l:", StringComparison.Ordinal) && kindsB.Contains("t:" + kind.Split(':')[1]))
            {
                return true;
            }
        }
        return kindsB.Any(kind => kind.StartsWith("l:", StringComparison.Ordinal) && kindsA.Contains("t:" + kind.Split(':')[1]));
    }

    private static HashSet<string> Kinds(SchemaNode node, int hops)
    {
        if (hops > StructuredLimits.MaxExpansionHops)
        {
            return ["t:object", "t:array", "t:string", "t:number", "t:boolean", "t:null"];
        }

        return node switch
        {
            UnionNode union => [.. union.Options.SelectMany(option => Kinds(option, hops + 1))],
            RefNode reference => reference.Target is null ? ["t:object", "t:array", "t:string", "t:number", "t:boolean", "t:null"] : Kinds(reference.Target, hops + 1),
            ObjectNode => ["t:object"],
            ArrayNode => ["t:array"],
            StringNode => ["t:string"],
            NumberNode => ["t:number"],
            LiteralNode literal => [$"l:{LiteralType(literal.Bytes)}:{Encoding.UTF8.GetString(literal.Bytes)}"],
            _ => [],
        };
    }

    private static string LiteralType(byte[] bytes) => bytes[0] switch
    {
        (byte)'{' => "object",
        (byte)'[' => "array",
        (byte)'"' => "string",
        (byte)'t' or (byte)'f' => "boolean",
        (byte)'n' => "null",
        _ => "number",
    };
}
