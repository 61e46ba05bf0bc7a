namespace InferServer.Jinja;

/// <summary>
/// The limits of one render, so that a hostile or broken template cannot hang or exhaust the server: the length of
/// the output and of any string or list built on the way, the loop iterations of the whole render, the depth of
/// macro calls, and the wall-clock time of the render.
/// </summary>
internal sealed class RenderBudget(JinjaRenderOptions options)
{
    private readonly long started = System.Diagnostics.Stopwatch.GetTimestamp();
    private long iterations;

    public JinjaRenderOptions Options { get; } = options;

    public void CheckSize(double size)
    {
        if (size > Options.MaxOutputChars)
        {
            throw new JinjaError($"the template built a value of {size:0} items, beyond the limit of {Options.MaxOutputChars}");
        }
    }

    public string Checked(string text)
    {
        CheckSize(text.Length);
        return text;
    }

    public T Checked<T>(T list) where T : System.Collections.ICollection
    {
        CheckSize(list.Count);
        return list;
    }

    public void Iteration()
    {
        if (++iterations > Options.MaxLoopIterations)
        {
            throw new JinjaError($"the template ran more than {Options.MaxLoopIterations} loop iterations");
        }

        Tick();
    }

    /// <summary>Checks the clock: loop and value limits bound counts, not the work each step does (1 in a long list).</summary>
    public void Tick()
    {
        if (System.Diagnostics.Stopwatch.GetElapsedTime(started) > Options.MaxRenderTime)
        {
            throw new JinjaError($"the template ran longer than {Options.MaxRenderTime.TotalSeconds:0.###} s");
        }
    }
}
