using InferServer.AdapterStore.Configuration;

namespace InferServer.AdapterStore.Tests.Configuration;

public sealed class AdapterStoreOptionsTests
{
    [Fact]
    public void DefaultsWithAnExistingRoot_AreValid_AndExplicitLoadsMayUseThatRoot()
    {
        using var root = new TemporaryDirectory();
        var options = new AdapterStoreOptions { AdapterRoots = [root.Path] };

        Assert.Empty(options.Validate());
        Assert.Equal([root.Path], options.EffectiveAllowedLoadRoots);
    }

    [Fact]
    public void Validate_ReportsEveryProblemAtOnce()
    {
        var options = new AdapterStoreOptions
        {
            AdapterRoots = ["/does/not/exist"],
            Preload = ["../x"],
            HostMaxAdapters = 0,
            HostMaxBytes = -1,
            DeviceSlots = -1,
            DeviceSlotBytes = 0,
            MaxRank = 0,
            MergeMinShare = 1.5,
            MergeWindow = 0,
            MergeMaxAdapters = 0,
        };

        var problems = options.Validate();

        string[] expected =
        [
            "directory '/does/not/exist' does not exist", "'../x' is not a valid adapter name", "HostMaxAdapters 0", "HostMaxBytes -1",
            "DeviceSlots -1", "DeviceSlotBytes 0", "MaxRank 0", "MergeMinShare 1.5", "MergeWindow 0", "MergeMaxAdapters 0", "some would be evicted at once",
        ];
        Assert.All(expected, fragment => Assert.Contains(problems, problem => problem.Contains(fragment, StringComparison.Ordinal)));
        Assert.Equal(expected.Length, problems.Count);
    }
}
