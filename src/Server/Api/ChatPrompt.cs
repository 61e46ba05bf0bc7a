namespace InferServer.Server.Api;

/// <summary>A conversation rendered to prompt text by <paramref name="Template"/>, with the stop strings that end the reply.</summary>
public sealed record ChatPrompt(string Text, string Template, IReadOnlyList<string> StopStrings);
