using Grpc.Core;
using InferServer.AdapterStore.Registry;
using InferServer.Api.V1;
using InferServer.Server.Observability;

namespace InferServer.Server.Api;

/// <summary>The Admin service: adapter lifecycle over the registry. Access control is <see cref="ApiKeyInterceptor"/>'s.</summary>
public sealed class AdminService(
    IAdapterRegistry registry, AdapterHealthPublisher adapterHealth)
    : Admin.AdminBase
{
    public override async Task<InferServer.Api.V1.AdapterInfo> LoadAdapter(LoadAdapterRequest request, ServerCallContext context)
    {
        RequireName(request.Name);
        var adapter = await registry.LoadAsync(
            request.Name, request.Path.Length == 0 ? null : request.Path, request.Reload, context.CancellationToken);
        adapterHealth.Synchronize();
        return AdapterMapper.ToProto(adapter);
    }

    public override async Task<UnloadAdapterResponse> UnloadAdapter(UnloadAdapterRequest request, ServerCallContext context)
    {
        RequireName(request.Name);
        await registry.UnloadAsync(request.Name, context.CancellationToken);
        adapterHealth.Synchronize();
        return new UnloadAdapterResponse();
    }

    public override Task<ListAdaptersResponse> ListAdapters(ListAdaptersRequest request, ServerCallContext context)
    {
        var response = new ListAdaptersResponse();
        response.Adapters.AddRange(registry.List().Select(AdapterMapper.ToProto));
        return Task.FromResult(response);
    }

    public override Task<InferServer.Api.V1.AdapterInfo> GetAdapter(GetAdapterRequest request, ServerCallContext context)
    {
        RequireName(request.Name);
        return Task.FromResult(AdapterMapper.ToProto(registry.Get(request.Name)));
    }

    private static void RequireName(string name)
    {
        if (name.Length == 0)
        {
            InvalidRequestException.Throw("name", "must not be empty");
        }
    }
}
