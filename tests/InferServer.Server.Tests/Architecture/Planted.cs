// Namespaces planted for DependencyRulesTests to show that NamespaceGraph finds a cycle wherever it is: between two
// subfolders, and through a root. Block-scoped because each one needs its own namespace, and they only mean something
// side by side.
#pragma warning disable CS0649, CA1812 // never instantiated: only the dependencies between the types matter

namespace InferServer.Server.Tests.Architecture
{
    internal static class Planted
    {
        public const string SubfolderCycle = "InferServer.Server.Tests.Architecture.PlantedSubfolderCycle";
        public const string RootCycle = "InferServer.Server.Tests.Architecture.PlantedRootCycle";
        public const string Acyclic = "InferServer.Server.Tests.Architecture.PlantedAcyclic";
    }
}

namespace InferServer.Server.Tests.Architecture.PlantedSubfolderCycle.Left.Inner
{
    internal sealed class UsesRight
    {
        public Right.UsesLeftInner? Other;
    }
}

namespace InferServer.Server.Tests.Architecture.PlantedSubfolderCycle.Right
{
    internal sealed class UsesLeftInner
    {
        public Left.Inner.UsesRight? Other;
    }
}

namespace InferServer.Server.Tests.Architecture.PlantedRootCycle
{
    internal sealed class RootContract
    {
        public Child.UsesRoot? Child;
    }
}

namespace InferServer.Server.Tests.Architecture.PlantedRootCycle.Child
{
    internal sealed class UsesRoot
    {
        public RootContract? Root;
    }
}

namespace InferServer.Server.Tests.Architecture.PlantedAcyclic
{
    internal sealed class RootContract;
}

namespace InferServer.Server.Tests.Architecture.PlantedAcyclic.Child
{
    internal sealed class UsesRoot
    {
        public RootContract? Root;
    }
}
