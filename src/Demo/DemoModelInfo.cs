namespace InferServer.Demo;

/// <summary>What <see cref="DemoModelGenerator"/> wrote: one model directory and the adapters under its adapters/ folder.</summary>
/// <param name="Kind"></param>
/// <param name="Directory"></param>
/// <param name="Adapters"></param>
/// <param name="Bytes">Total size of the files written.</param>
public sealed record DemoModelInfo(DemoModelKind Kind, string Directory, IReadOnlyList<string> Adapters, long Bytes);
