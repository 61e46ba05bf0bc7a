using InferServer.Engine;

namespace InferServer.Server.Api.OpenAi;

/// <summary>
/// What one generation endpoint (/v1/completions or /v1/chat/completions) does its own way, given to the one handler
/// that both share (<see cref="OpenAiApi"/>): its requests to the engine, and how each choice is written, streamed
/// (<typeparamref name="TPiece"/>) and whole (<typeparamref name="TChoice"/>). One instance per request.
/// </summary>
/// <param name="common">What every generation body has.</param>
internal abstract class OpenAiGeneration<TPiece, TChoice>(OpenAiCommon common)
{
    /// <summary>Model, parameters, n, stream and the other fields both endpoints have.</summary>
    public OpenAiCommon Common { get; } = common;

    /// <summary>The response id's prefix ("cmpl-", "chatcmpl-").</summary>
    public abstract string IdPrefix { get; }

    /// <summary>The engine requests, choice index order (validation and chat templating happen here).</summary>
    public abstract IReadOnlyList<GenerationRequest> ToDomain(EngineModelInfo model, ApiOptions limits);

    /// <summary>The writer of choice <paramref name="index"/>.</summary>
    public abstract OpenAiChoice<TPiece, TChoice> Choice(int index, Func<int, ReadOnlyMemory<byte>> tokenBytes);

    /// <summary>A stream chunk with <paramref name="pieces"/> (none: the usage chunk).</summary>
    public abstract object Chunk(string id, long created, IReadOnlyList<TPiece> pieces, OpenAiUsage? usage);

    /// <summary>The whole response.</summary>
    public abstract object Response(string id, long created, IReadOnlyList<TChoice> choices, OpenAiUsage usage);
}

/// <summary>One choice of a generation response, as it streams and as it is collected whole.</summary>
internal abstract class OpenAiChoice<TPiece, TChoice>
{
    /// <summary>The pieces streamed before any token.</summary>
    public virtual IEnumerable<TPiece> Opening() => [];

    /// <summary>The pieces one engine event becomes when streaming (possibly none).</summary>
    public abstract IEnumerable<TPiece> Stream(GenerationEvent generationEvent);

    /// <summary>Adds one engine event to the whole choice.</summary>
    public abstract void Collect(GenerationEvent generationEvent);

    /// <summary>The whole choice, once its generation has finished.</summary>
    public abstract TChoice Whole();
}
