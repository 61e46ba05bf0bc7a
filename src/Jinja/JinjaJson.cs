using System.Collections;
using System.Globalization;
using System.Text;

namespace InferServer.Jinja;

/// <summary>
/// The tojson filter as Hugging Face transformers registers it for chat templates:
/// <c>json.dumps(x, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys)</c>, so the text
/// matches Python's json module byte for byte: ", " and ": " between items without indent, "," and a newline with it,
/// non-ASCII characters unescaped, floats as Python's repr, keys in insertion order.
/// </summary>
internal static class JinjaJson
{
    public static string Serialize(object? value, bool ensureAscii, object? indent, object? separators, bool sortKeys, RenderBudget budget)
    {
        var indentText = indent switch
        {
            null => null,
            long count => new string(' ', (int)Math.Clamp(count, 0, 1024)),
            bool flag => new string(' ', flag ? 1 : 0),
            string text => text,
            _ => throw new JinjaError($"tojson indent must be an integer or a string, not {JinjaValues.TypeName(indent)}"),
        };
        string itemSeparator = indentText is null ? ", " : ",", keySeparator = ": ";
        if (separators is IList pair && pair.Count == 2 && pair[0] is string item && pair[1] is string key)
        {
            itemSeparator = item;
            keySeparator = key;
        }
        else if (separators is not null)
        {
            throw new JinjaError("tojson separators must be a pair of strings");
        }
        var writer = new Writer(ensureAscii, indentText, itemSeparator, keySeparator, sortKeys, budget);
        writer.Write(value, 0);
        return writer.ToString();
    }

    private sealed class Writer(bool ensureAscii, string? indent, string itemSeparator, string keySeparator, bool sortKeys, RenderBudget budget)
    {
        private readonly StringBuilder output = new();

        public override string ToString() => output.ToString();

        public void Write(object? value, int depth)
        {
            budget.CheckSize(output.Length);
            if (depth > 500)
            {
                throw new JinjaError("tojson: the value nests too deeply");
            }

            switch (value)
            {
                case null: output.Append("null"); break;
                case bool flag: output.Append(flag ? "true" : "false"); break;
                case long number: output.Append(number.ToString(CultureInfo.InvariantCulture)); break;
                case double number: output.Append(Float(number)); break;
                case string text: WriteString(text); break;
                case IDictionary dictionary: WriteObject(dictionary, depth); break;
                case IList list: WriteArray(list, depth); break;
                case Namespace ns: WriteObject(ns.Attributes.ToDictionary(pair => (object)pair.Key, pair => pair.Value), depth); break;
                default: throw new JinjaError($"Object of type {JinjaValues.TypeName(value)} is not JSON serializable");
            }
        }

        private static string Float(double number) =>
            double.IsNaN(number) ? "NaN" : double.IsPositiveInfinity(number) ? "Infinity" : double.IsNegativeInfinity(number) ? "-Infinity"
            : JinjaValues.FormatFloat(number);

        private void NewLine(int depth)
        {
            if (indent is null)
            {
                return;
            }

            output.Append('\n');
            for (var i = 0; i < depth; i++)
            {
                output.Append(indent);
            }
        }

        private void WriteArray(IList list, int depth)
        {
            if (list.Count == 0)
            {
                output.Append("[]");
                return;
            }
            output.Append('[');
            for (var i = 0; i < list.Count; i++)
            {
                if (i > 0)
                {
                    output.Append(itemSeparator);
                }

                NewLine(depth + 1);
                Write(list[i], depth + 1);
            }
            NewLine(depth);
            output.Append(']');
        }

        private void WriteObject(IDictionary dictionary, int depth)
        {
            if (dictionary.Count == 0)
            {
                output.Append("{}");
                return;
            }
            var entries = new List<(string Key, object? Value)>(dictionary.Count);
            foreach (DictionaryEntry entry in dictionary)
            {
                entries.Add((KeyText(entry.Key), entry.Value));
            }

            if (sortKeys)
            {
                entries.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
            }

            output.Append('{');
            for (var i = 0; i < entries.Count; i++)
            {
                if (i > 0)
                {
                    output.Append(itemSeparator);
                }

                NewLine(depth + 1);
                WriteString(entries[i].Key);
                output.Append(keySeparator);
                Write(entries[i].Value, depth + 1);
            }
            NewLine(depth);
            output.Append('}');
        }

        // json.dumps turns non-string keys into strings: True → "true", 1.5 → "1.5", None → "null".
        private static string KeyText(object key) => key switch
        {
            string text => text,
            bool flag => flag ? "true" : "false",
            long number => number.ToString(CultureInfo.InvariantCulture),
            double number => Float(number),
            _ => throw new JinjaError($"keys must be str, int, float or bool, not {JinjaValues.TypeName(key)}"),
        };

        private void WriteString(string text)
        {
            output.Append('"');
            foreach (var c in text)
            {
                switch (c)
                {
                    case '"': output.Append("\\\""); break;
                    case '\\': output.Append("\\\\"); break;
                    case '\n': output.Append("\\n"); break;
                    case '\r': output.Append("\\r"); break;
                    case '\t': output.Append("\\t"); break;
                    case '\b': output.Append("\\b"); break;
                    case '\f': output.Append("\\f"); break;
                    case < ' ':
                        output.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
                        break;
                    case > '~' when ensureAscii:
                        // Python escapes each UTF-16 code unit, so astral characters become surrogate pairs.
                        output.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
                        break;
                    default:
                        output.Append(c);
                        break;
                }
            }
            output.Append('"');
        }
    }
}
