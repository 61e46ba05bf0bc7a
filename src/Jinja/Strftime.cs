using System.Globalization;
using System.Text;

namespace InferServer.Jinja;

/// <summary>Python's datetime.strftime for the directives chat templates use (Llama 3.x writes "%d %b %Y"), in the
/// C locale; glibc's "%-d" form drops the leading zero.</summary>
internal static class Strftime
{
    public static string Format(DateTimeOffset time, string format)
    {
        var result = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                result.Append(format[i]);
                continue;
            }
            var directive = format[++i];
            var noPadding = false;
            if (directive == '-' && i + 1 < format.Length)
            {
                noPadding = true;
                directive = format[++i];
            }
            string Number(int value, int width) =>
                noPadding ? value.ToString(CultureInfo.InvariantCulture) : value.ToString(new string('0', width), CultureInfo.InvariantCulture);
            result.Append(directive switch
            {
                'd' => Number(time.Day, 2),
                'e' => time.Day.ToString(CultureInfo.InvariantCulture).PadLeft(2),
                'm' => Number(time.Month, 2),
                'Y' => time.Year.ToString(CultureInfo.InvariantCulture),
                'y' => Number(time.Year % 100, 2),
                'H' => Number(time.Hour, 2),
                'I' => Number(time.Hour % 12 == 0 ? 12 : time.Hour % 12, 2),
                'M' => Number(time.Minute, 2),
                'S' => Number(time.Second, 2),
                'p' => time.Hour < 12 ? "AM" : "PM",
                'j' => Number(time.DayOfYear, 3),
                'b' or 'h' => CultureInfo.InvariantCulture.DateTimeFormat.GetAbbreviatedMonthName(time.Month),
                'B' => CultureInfo.InvariantCulture.DateTimeFormat.GetMonthName(time.Month),
                'a' => CultureInfo.InvariantCulture.DateTimeFormat.GetAbbreviatedDayName(time.DayOfWeek),
                'A' => CultureInfo.InvariantCulture.DateTimeFormat.GetDayName(time.DayOfWeek),
                'w' => ((int)time.DayOfWeek).ToString(CultureInfo.InvariantCulture),
                '%' => "%",
                _ => throw new JinjaError($"strftime_now: the directive '%{directive}' is not supported"),
            });
        }
        return result.ToString();
    }
}
