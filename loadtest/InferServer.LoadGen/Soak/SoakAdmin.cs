using Grpc.Core;
using InferServer.Api.V1;

namespace InferServer.LoadGen.Soak;

/// <summary>The admin API with the admin key; each call answers its status name ("OK" or a gRPC status) rather than throwing.</summary>
public sealed class SoakAdmin(Admin.AdminClient admin, string adminKey)
{
    // Admin calls finish even when the traffic phase ends, so that no unload is left half done.
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(60);

    private readonly Metadata headers = new() { { "authorization", "Bearer " + adminKey } };

    public async Task<IReadOnlyList<AdapterInfo>> ListAsync() =>
        (await admin.ListAdaptersAsync(new ListAdaptersRequest(), headers, DateTime.UtcNow + CallTimeout)).Adapters;

    public Task<string> LoadAsync(string name, string? directory = null, bool reload = false) =>
        StatusOf(admin.LoadAdapterAsync(new LoadAdapterRequest { Name = name, Path = directory ?? "", Reload = reload }, headers, DateTime.UtcNow + CallTimeout).ResponseAsync);

    public Task<string> UnloadAsync(string name) =>
        StatusOf(admin.UnloadAdapterAsync(new UnloadAdapterRequest { Name = name }, headers, DateTime.UtcNow + CallTimeout).ResponseAsync);

    private static async Task<string> StatusOf(Task call)
    {
        try
        {
            await call;
            return SoakOutcome.Ok;
        }
        catch (RpcException exception)
        {
            return exception.StatusCode.ToString();
        }
    }
}
