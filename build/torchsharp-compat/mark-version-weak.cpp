// Marks one symbol-version requirement (e.g. GLIBCXX_3.4.32) of an ELF64 shared library as weak
// (VER_FLG_WEAK in its Vernaux entry), so the dynamic loader no longer refuses to load the library
// when the system's libstdc++ does not define that version. patchelf cannot set this flag.
// Usage: mark-version-weak LIBRARY VERSION   (exit 0: marked or already weak; 1: not found; 2: error)
#include <elf.h>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

int main(int argc, char** argv)
{
    if (argc != 3) { std::fprintf(stderr, "usage: %s LIBRARY VERSION\n", argv[0]); return 2; }
    std::ifstream in(argv[1], std::ios::binary);
    std::vector<char> image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (image.size() < sizeof(Elf64_Ehdr) || std::memcmp(image.data(), ELFMAG, SELFMAG) != 0
        || image[EI_CLASS] != ELFCLASS64)
    { std::fprintf(stderr, "%s: not an ELF64 file\n", argv[1]); return 2; }

    auto* header = reinterpret_cast<Elf64_Ehdr*>(image.data());
    auto* sections = reinterpret_cast<Elf64_Shdr*>(image.data() + header->e_shoff);
    bool found = false;
    for (int i = 0; i < header->e_shnum; ++i)
    {
        if (sections[i].sh_type != SHT_GNU_verneed) continue;
        const char* strings = image.data() + sections[sections[i].sh_link].sh_offset;
        size_t needOffset = sections[i].sh_offset;
        for (unsigned n = 0; n < sections[i].sh_info; ++n)
        {
            auto* need = reinterpret_cast<Elf64_Verneed*>(image.data() + needOffset);
            size_t auxOffset = needOffset + need->vn_aux;
            for (unsigned a = 0; a < need->vn_cnt; ++a)
            {
                auto* aux = reinterpret_cast<Elf64_Vernaux*>(image.data() + auxOffset);
                if (std::strcmp(strings + aux->vna_name, argv[2]) == 0)
                {
                    aux->vna_flags |= VER_FLG_WEAK;
                    found = true;
                }
                auxOffset += aux->vna_next;
            }
            needOffset += need->vn_next;
        }
    }
    if (!found) { std::fprintf(stderr, "%s: no requirement for version %s\n", argv[1], argv[2]); return 1; }
    std::ofstream out(argv[1], std::ios::binary | std::ios::trunc);
    out.write(image.data(), static_cast<std::streamsize>(image.size()));
    return out ? 0 : 2;
}
