namespace InferServer.Server.Api;

/// <summary>A request message that names an adapter, so the interceptor can label metrics without knowing the type.</summary>
public interface IAdapterScoped
{
    /// <summary>The adapter name; empty = the base model.</summary>
    string Adapter { get; }
}
