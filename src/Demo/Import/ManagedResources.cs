using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace InferServer.Demo.Import;

/// <summary>
/// Reads a managed resource embedded in a .NET assembly file without loading the assembly (ECMA-335 §II.24.2.6:
/// each embedded resource is a 4-byte length followed by its bytes, at its offset in the CLI header's Resources
/// directory). Loading it would also try to bind its dependencies, which a model package's DLL needs but we don't.
/// </summary>
public static class ManagedResources
{
    /// <summary>The bytes of resource <paramref name="name"/> in <paramref name="assemblyPath"/>.</summary>
    public static byte[] Read(string assemblyPath, string name)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        foreach (var handle in metadata.ManifestResources)
        {
            var resource = metadata.GetManifestResource(handle);
            if (metadata.GetString(resource.Name) != name)
            {
                continue;
            }

            if (!resource.Implementation.IsNil)
            {
                throw new InvalidDataException($"resource '{name}' of '{assemblyPath}' lives in another file");
            }

            var directory = pe.PEHeaders.CorHeader?.ResourcesDirectory
                ?? throw new InvalidDataException($"'{assemblyPath}' has no resources directory");
            var section = pe.GetSectionData(directory.RelativeVirtualAddress);
            var reader = section.GetReader((int)resource.Offset, directory.Size - (int)resource.Offset);
            var length = reader.ReadInt32();
            return reader.ReadBytes(length);
        }
        throw new InvalidDataException($"'{assemblyPath}' has no resource '{name}'");
    }
}
