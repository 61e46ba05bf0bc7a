using InferServer.AdapterStore.Configuration;
using InferServer.AdapterStore.Registry;

namespace InferServer.AdapterStore.Tests.Configuration;

public sealed class AdapterPathsTests : IDisposable
{
    private readonly TemporaryDirectory root = new();
    private readonly TemporaryDirectory outside = new();

    public void Dispose()
    {
        root.Dispose();
        outside.Dispose();
    }

    [Fact]
    public void DirectoryInsideARoot_ResolvesToItsRealPath()
    {
        Directory.CreateDirectory(root.File("a"));

        Assert.Equal(AdapterPaths.RealPath(root.File("a")), AdapterPaths.ResolveInside(Path.Combine(root.Path, ".", "a", "..", "a"), [root.Path]));
    }

    [Fact]
    public void DotDotOutOfTheRoot_IsRefused()
    {
        Directory.CreateDirectory(outside.File("x"));
        string escape = Path.Combine(root.Path, "..", Path.GetFileName(outside.Path), "x");

        var error = Assert.Throws<AdapterPathException>(() => AdapterPaths.ResolveInside(escape, [root.Path]));

        Assert.Contains("outside the allowed adapter roots", error.Message);
    }

    [Fact]
    public void SymlinkPointingOutOfTheRoot_IsRefused()
    {
        Directory.CreateDirectory(outside.File("x"));
        Directory.CreateSymbolicLink(root.File("link"), outside.File("x"));

        Assert.Throws<AdapterPathException>(() => AdapterPaths.ResolveInside(root.File("link"), [root.Path]));
    }

    [Fact]
    public void DotDotAfterASymlink_IsJudgedWhereTheKernelGoes()
    {
        // root/link -> outside/deep, so root/link/.. is outside (as the kernel resolves it), not root (as text suggests).
        Directory.CreateDirectory(outside.File("deep"));
        Directory.CreateDirectory(outside.File("x"));
        Directory.CreateDirectory(root.File("x"));
        Directory.CreateSymbolicLink(root.File("link"), outside.File("deep"));

        Assert.Equal(AdapterPaths.RealPath(outside.File("x")), AdapterPaths.RealPath(Path.Combine(root.Path, "link", "..", "x")));
        Assert.Throws<AdapterPathException>(() => AdapterPaths.ResolveInside(Path.Combine(root.Path, "link", "..", "x"), [root.Path]));
    }

    [Fact]
    public void SiblingWhoseNameStartsLikeTheRoot_IsNotInsideIt()
    {
        string sibling = root.Path + "-evil";
        Directory.CreateDirectory(sibling);
        try
        {
            Assert.Throws<AdapterPathException>(() => AdapterPaths.ResolveInside(sibling, [root.Path]));
        }
        finally
        {
            Directory.Delete(sibling);
        }
    }

    [Fact]
    public void MissingDirectory_IsRefused()
    {
        var error = Assert.Throws<AdapterPathException>(() => AdapterPaths.ResolveInside(root.File("nope"), [root.Path]));

        Assert.Contains("not a directory", error.Message);
    }
}
