// Supplies the one GCC 13 libstdc++ symbol that libLibTorchSharp.so needs and Debian 12's
// libstdc++ (GCC 12, GLIBCXX_3.4.30) lacks: std::ios_base_library_init(), the hook GCC 13 emits so
// that <iostream>'s standard streams are constructed before use. Constructing one
// std::ios_base::Init here does exactly that on GCC 12. See docs/torchsharp-on-debian12.md.
#include <ios>

namespace std
{
    void ios_base_library_init() {}
}

static std::ios_base::Init initialiseStandardStreams;
