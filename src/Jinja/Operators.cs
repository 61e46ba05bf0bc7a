using System.Collections;
using System.Text;

namespace InferServer.Jinja;

/// <summary>Python's arithmetic and membership on template values; <see cref="RenderBudget"/> caps the size of
/// anything built, so that string or list repetition cannot exhaust memory.</summary>
internal static class Operators
{
    public static object? Binary(string op, object? left, object? right, RenderBudget budget)
    {
        if (left is Undefined undefinedLeft && op != "~")
        {
            throw undefinedLeft.Fail();
        }

        if (right is Undefined undefinedRight && op != "~")
        {
            throw undefinedRight.Fail();
        }

        return op switch
        {
            "+" => Add(left, right, budget),
            "-" => Numeric(op, left, right, (a, b) => checked(a - b), (a, b) => a - b),
            "*" => Multiply(left, right, budget),
            "/" => Divide(left, right),
            "//" => FloorDivide(left, right),
            "%" => Modulo(left, right),
            "**" => Power(left, right),
            "~" => budget.Checked(JinjaValues.ToStr(left) + JinjaValues.ToStr(right)),
            _ => throw new JinjaError($"unknown operator '{op}'"),
        };
    }

    public static object? Negate(object? value) => value switch
    {
        bool flag => flag ? -1L : 0L,
        long number => (object)checked(-number),
        double number => -number,
        Undefined undefined => throw undefined.Fail(),
        _ => throw new JinjaError($"bad operand type for unary -: '{JinjaValues.TypeName(value)}'"),
    };

    public static object? Plus(object? value) => value switch
    {
        bool flag => (object)(flag ? 1L : 0L),
        long or double => value,
        Undefined undefined => throw undefined.Fail(),
        _ => throw new JinjaError($"bad operand type for unary +: '{JinjaValues.TypeName(value)}'"),
    };

    /// <summary>Python's <c>item in container</c>: substring, list membership, dict key.</summary>
    public static bool Contains(object? container, object? item) => container switch
    {
        string text => item is string part ? text.Contains(part, StringComparison.Ordinal)
            : throw new JinjaError($"'in <string>' requires string as left operand, not {JinjaValues.TypeName(item)}"),
        IDictionary dictionary => item is not null && item is not Undefined && dictionary.Contains(item),
        IList list => list.Cast<object?>().Any(element => JinjaValues.Equals(element, item)),
        Undefined undefined => throw undefined.Fail(),
        _ => throw new JinjaError($"argument of type '{JinjaValues.TypeName(container)}' is not iterable"),
    };

    private static object? Add(object? left, object? right, RenderBudget budget)
    {
        switch (left)
        {
            case string text when right is string other:
                return budget.Checked(text + other);
            case string:
                throw new JinjaError($"can only concatenate str (not \"{JinjaValues.TypeName(right)}\") to str");
            case object?[] tuple when right is object[] otherTuple:
                return budget.Checked(tuple.Concat(otherTuple).ToArray());
            case IList list when left is not object[] && right is IList otherList and not object[]:
                return budget.Checked(list.Cast<object?>().Concat(otherList.Cast<object?>()).ToList());
            case IList when left is not object[]:
                throw new JinjaError($"can only concatenate list (not \"{JinjaValues.TypeName(right)}\") to list");
            default:
                return Numeric("+", left, right, (a, b) => checked(a + b), (a, b) => a + b);
        }
    }

    private static object? Multiply(object? left, object? right, RenderBudget budget)
    {
        if (left is string && right is long or bool)
        {
            return Repeat((string)left, JinjaValues.ToLong(right), budget);
        }

        if (right is string && left is long or bool)
        {
            return Repeat((string)right, JinjaValues.ToLong(left), budget);
        }

        if (left is List<object?> list && right is long or bool)
        {
            return RepeatList(list, JinjaValues.ToLong(right), budget);
        }

        if (right is List<object?> otherList && left is long or bool)
        {
            return RepeatList(otherList, JinjaValues.ToLong(left), budget);
        }

        return Numeric("*", left, right, (a, b) => checked(a * b), (a, b) => a * b);
    }

    private static string Repeat(string text, long count, RenderBudget budget)
    {
        if (count <= 0 || text.Length == 0)
        {
            return "";
        }

        budget.CheckSize((double)text.Length * count);
        return new StringBuilder(text.Length * (int)count).Insert(0, text, (int)count).ToString();
    }

    private static List<object?> RepeatList(List<object?> list, long count, RenderBudget budget)
    {
        if (count <= 0 || list.Count == 0)
        {
            return [];
        }

        budget.CheckSize((double)list.Count * count);
        var result = new List<object?>();
        for (var i = 0; i < count; i++)
        {
            result.AddRange(list);
        }

        return result;
    }

    private static object? Divide(object? left, object? right)
    {
        var divisor = NumberOperand("/", left, right).Right;
        if (divisor == 0)
        {
            throw new JinjaError("division by zero");
        }

        return JinjaValues.ToDouble(left) / divisor;
    }

    private static object? FloorDivide(object? left, object? right)
    {
        NumberOperand("//", left, right);
        if (left is double || right is double)
        {
            var divisor = JinjaValues.ToDouble(right);
            if (divisor == 0)
            {
                throw new JinjaError("float floor division by zero");
            }

            return Math.Floor(JinjaValues.ToDouble(left) / divisor);
        }
        var a = JinjaValues.ToLong(left);
        var b = JinjaValues.ToLong(right);
        if (b == 0)
        {
            throw new JinjaError("integer division or modulo by zero");
        }

        var quotient = a / b;
        return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient;
    }

    private static object? Modulo(object? left, object? right)
    {
        if (left is string)
        {
            throw new JinjaError("printf-style string formatting ('%' on a string) is not supported by this server's Jinja subset");
        }

        NumberOperand("%", left, right);
        if (left is double || right is double)
        {
            var x = JinjaValues.ToDouble(left);
            var y = JinjaValues.ToDouble(right);
            if (y == 0)
            {
                throw new JinjaError("float modulo");
            }

            var remainder = x % y;
            return remainder != 0 && (remainder < 0) != (y < 0) ? remainder + y : remainder;
        }
        var a = JinjaValues.ToLong(left);
        var b = JinjaValues.ToLong(right);
        if (b == 0)
        {
            throw new JinjaError("integer division or modulo by zero");
        }

        var result = a % b;
        return result != 0 && (result < 0) != (b < 0) ? result + b : result;
    }

    private static object? Power(object? left, object? right)
    {
        NumberOperand("**", left, right);
        if (left is double || right is double || JinjaValues.ToLong(right) < 0)
        {
            return Math.Pow(JinjaValues.ToDouble(left), JinjaValues.ToDouble(right));
        }
        // By squaring: O(log exponent), so 1 ** 9223372036854775807 does not spin; overflow is an error, as ints are 64-bit.
        var power = 1L;
        var square = JinjaValues.ToLong(left);
        for (var exponent = JinjaValues.ToLong(right); exponent > 0; exponent >>= 1)
        {
            if ((exponent & 1) == 1)
            {
                power = checked(power * square);
            }

            if (exponent > 1)
            {
                square = checked(square * square);
            }
        }
        return power;
    }

    private static object? Numeric(string op, object? left, object? right, Func<long, long, long> integer, Func<double, double, double> real)
    {
        NumberOperand(op, left, right);
        if (left is double || right is double)
        {
            return real(JinjaValues.ToDouble(left), JinjaValues.ToDouble(right));
        }

        try
        {
            return integer(JinjaValues.ToLong(left), JinjaValues.ToLong(right));
        }
        catch (OverflowException)
        {
            throw new JinjaError("integer overflow (beyond 64 bits)");
        }
    }

    private static (double Left, double Right) NumberOperand(string op, object? left, object? right)
    {
        if (!JinjaValues.IsNumber(left) || !JinjaValues.IsNumber(right))
        {
            throw new JinjaError($"unsupported operand type(s) for {op}: '{JinjaValues.TypeName(left)}' and '{JinjaValues.TypeName(right)}'");
        }

        return (JinjaValues.ToDouble(left), JinjaValues.ToDouble(right));
    }
}
