using InferServer.Server.Api;

// The generated request messages that name an adapter. Generated classes are partial; these declarations only add
// the interface (inference requests already have an Adapter property; admin requests call it Name).
namespace InferServer.Api.V1;

public sealed partial class GenerateRequest : IAdapterScoped;

public sealed partial class ChatRequest : IAdapterScoped;

public sealed partial class ClassifyRequest : IAdapterScoped;

public sealed partial class LoadAdapterRequest : IAdapterScoped
{
    string IAdapterScoped.Adapter => Name;
}

public sealed partial class UnloadAdapterRequest : IAdapterScoped
{
    string IAdapterScoped.Adapter => Name;
}

public sealed partial class GetAdapterRequest : IAdapterScoped
{
    string IAdapterScoped.Adapter => Name;
}
