using System.Net;

namespace InferServer.LoadGen.Targets;

/// <summary>
/// Refuses targets that are not this machine unless the caller opts in: a load generator pointed at someone else's
/// server by a typo is a denial-of-service attack, so reaching beyond loopback takes an explicit --allow-remote.
/// </summary>
public static class LoopbackGuard
{
    /// <summary>Null when <paramref name="target"/> may be used, else the reason it is refused.</summary>
    public static string? Check(Uri target, bool allowRemote)
    {
        if (target.Scheme is not ("http" or "https"))
            return $"target {target} must be an http:// or https:// address";
        if (allowRemote || IsLoopback(target.Host))
            return null;
        return $"refusing non-loopback target {target.Host}: load generation is for your own machine (127.0.0.1, ::1, localhost). " +
               "Pass --allow-remote only for a server you own and are allowed to load.";
    }

    private static bool IsLoopback(string host)
    {
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)) return true;
        // Uri keeps IPv6 hosts in brackets.
        var bare = host.Trim('[', ']');
        return IPAddress.TryParse(bare, out var address) && IPAddress.IsLoopback(address);
    }
}
