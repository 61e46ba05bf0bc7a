using Google.Protobuf.WellKnownTypes;
using InferServer.AdapterStore;
using InferServer.AdapterStore.Registry;
using ProtoAdapterInfo = InferServer.Api.V1.AdapterInfo;
using ProtoAdapterTier = InferServer.Api.V1.AdapterTier;

namespace InferServer.Server.Api;

/// <summary>Adapter descriptions from the registry to proto.</summary>
public static class AdapterMapper
{
    public static ProtoAdapterInfo ToProto(AdapterInfo adapter)
    {
        var proto = new ProtoAdapterInfo
        {
            Name = adapter.Name,
            Directory = adapter.Directory,
            Tier = ToProto(adapter.Tier),
            Rank = adapter.Rank,
            Bytes = adapter.Bytes,
            RequestsServed = adapter.RequestsServed,
            LastUsed = adapter.LastUsed is { } lastUsed ? Timestamp.FromDateTimeOffset(lastUsed) : null,
            TaskType = adapter.TaskType ?? "",
        };
        proto.TargetModules.AddRange(adapter.TargetModules);
        if (adapter.Labels is { } labels)
        {
            proto.Labels.AddRange(labels);
        }

        return proto;
    }

    public static ProtoAdapterTier ToProto(AdapterTier tier) => tier switch
    {
        AdapterTier.Disk => ProtoAdapterTier.Disk,
        AdapterTier.Host => ProtoAdapterTier.Host,
        AdapterTier.Device => ProtoAdapterTier.Device,
        AdapterTier.Merged => ProtoAdapterTier.Merged,
        _ => ProtoAdapterTier.Unspecified,
    };
}
