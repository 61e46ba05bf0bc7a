namespace InferServer.AdapterStore.Registry;

/// <summary>
/// The adapter lifecycle as the admin APIs (gRPC admin service, OpenAI-style load/unload endpoints) see it. Thread-safe;
/// never touches the device: moving adapters into device slots is the engine thread's business.
/// </summary>
public interface IAdapterRegistry
{
    /// <summary>
    /// Registers <paramref name="name"/> from <paramref name="directory"/> (null: the directory of that name under the
    /// adapter root) and reads it into host memory, validating it against the base model. Idempotent for the same
    /// name and directory; <paramref name="reload"/> re-reads a changed directory. Throws
    /// <see cref="Configuration.InvalidAdapterNameException"/>, <see cref="Configuration.AdapterPathException"/> (outside the allowed roots),
    /// <see cref="Peft.InvalidAdapterException"/> (every problem listed) or <see cref="AdapterConflictException"/>
    /// (name already registered from another directory).
    /// </summary>
    Task<AdapterInfo> LoadAsync(string name, string? directory, bool reload, CancellationToken cancellationToken);

    /// <summary>
    /// Unregisters an adapter and frees its memory once no running request uses it (policy documented on the
    /// implementation). Throws <see cref="AdapterNotFoundException"/>.
    /// </summary>
    Task UnloadAsync(string name, CancellationToken cancellationToken);

    /// <summary>Every registered adapter, by name.</summary>
    IReadOnlyList<AdapterInfo> List();

    /// <summary>One adapter; throws <see cref="AdapterNotFoundException"/>.</summary>
    AdapterInfo Get(string name);
}
