namespace InferServer.Engine;

/// <summary>What the adapter tiers hold at one moment, pins included: for metrics, and for checking that nothing leaks.</summary>
/// <param name="HostAdapters">Adapters in host memory (pinned and draining ones included).</param>
/// <param name="HostBytes">Their bytes.</param>
/// <param name="HostPins">Pins requests hold on host copies.</param>
/// <param name="DeviceResident">Device slots holding an adapter.</param>
/// <param name="DevicePinned">Device slots some running request pins.</param>
/// <param name="DeviceResidentBytes">Bytes of slot pools holding resident adapters (at the padded rank).</param>
/// <param name="DevicePoolBytes">Bytes of the slot pools, allocated once per adapted module.</param>
/// <param name="MergedAdapters">Adapters with cached merged weights.</param>
/// <param name="MergedBytes">Bytes of those merged weights.</param>
public sealed record AdapterResidency(
    int HostAdapters,
    long HostBytes,
    int HostPins,
    int DeviceResident,
    int DevicePinned,
    long DeviceResidentBytes,
    long DevicePoolBytes,
    int MergedAdapters,
    long MergedBytes)
{
    /// <summary>A model served without adapters.</summary>
    public static AdapterResidency None { get; } = new(0, 0, 0, 0, 0, 0, 0, 0, 0);
}
