namespace InferServer.AdapterStore.Configuration;

/// <summary>A file of an adapter directory that may not be read; the message names the file, never a server path.</summary>
public sealed class ConfinedFileException(string problem) : IOException(problem);
