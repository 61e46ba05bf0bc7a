#!/usr/bin/env bash
# Makes TorchSharp's native bridge (libLibTorchSharp.so) load on systems whose libstdc++ predates
# GCC 13 (Debian 12: GLIBCXX_3.4.30). The build calls this for every output folder that holds the
# library (build, test and publish); see docs/torchsharp-on-debian12.md for the why.
#
#   patch-libtorchsharp.sh OUTPUT_DIR
#
# - Does nothing where the system libstdc++ already has GLIBCXX_3.4.32 (Ubuntu 24.04, Debian 13,
#   the CUDA images), or where OUTPUT_DIR holds no libLibTorchSharp.so.
# - Never touches the NuGet cache: it rewrites the copy in OUTPUT_DIR (through a temporary file, so a
#   hard link into the cache would be replaced, not edited).
# - Idempotent: a library that already needs the compat shim is left alone.
set -euo pipefail

output_dir=${1:?usage: patch-libtorchsharp.sh OUTPUT_DIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
compat_name=libinferserver-glibcxx-compat.so
missing_version=GLIBCXX_3.4.32
missing_symbol=_ZSt21ios_base_library_initv

mapfile -t libraries < <(find "$output_dir" -name libLibTorchSharp.so -type f 2>/dev/null)
[ ${#libraries[@]} -gt 0 ] || exit 0

system_libstdcxx=$(/sbin/ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')
if [ -n "$system_libstdcxx" ] && grep -qa "$missing_version" "$system_libstdcxx"; then
  exit 0
fi

# Tools: patchelf (Debian package) and g++ (to build the shim and the version-flag patcher).
need_packages=()
command -v patchelf >/dev/null || need_packages+=(patchelf)
command -v g++ >/dev/null || need_packages+=(g++)
if [ ${#need_packages[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "torchsharp-compat: installing ${need_packages[*]} (needed to run TorchSharp on this libstdc++)" >&2
    (apt-get install -y -qq "${need_packages[@]}" >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "${need_packages[@]}" >/dev/null; })
  else
    echo "torchsharp-compat: error: this system's libstdc++ lacks $missing_version, which TorchSharp needs;" \
         "install ${need_packages[*]} (e.g. 'sudo apt-get install ${need_packages[*]}') and build again." >&2
    exit 1
  fi
fi

# Build the two helpers once per checkout; a lock keeps parallel project builds from racing.
tools_dir="$here/.bin"
mkdir -p "$tools_dir"
exec 9>"$tools_dir/.lock"
flock 9
if [ ! -f "$tools_dir/$compat_name" ] || [ "$here/glibcxx-compat.cpp" -nt "$tools_dir/$compat_name" ]; then
  g++ -O2 -shared -fPIC -o "$tools_dir/$compat_name.tmp" "$here/glibcxx-compat.cpp"
  mv "$tools_dir/$compat_name.tmp" "$tools_dir/$compat_name"
fi
if [ ! -x "$tools_dir/mark-version-weak" ] || [ "$here/mark-version-weak.cpp" -nt "$tools_dir/mark-version-weak" ]; then
  g++ -O2 -o "$tools_dir/mark-version-weak.tmp" "$here/mark-version-weak.cpp"
  mv "$tools_dir/mark-version-weak.tmp" "$tools_dir/mark-version-weak"
fi

for library in "${libraries[@]}"; do
  directory=$(dirname "$library")
  cp "$tools_dir/$compat_name" "$directory/$compat_name.tmp" && mv "$directory/$compat_name.tmp" "$directory/$compat_name"
  if patchelf --print-needed "$library" | grep -qx "$compat_name"; then
    continue
  fi
  patched="$library.patching"
  cp "$library" "$patched"
  patchelf --clear-symbol-version "$missing_symbol" "$patched"
  "$tools_dir/mark-version-weak" "$patched" "$missing_version"
  patchelf --add-needed "$compat_name" "$patched"
  patchelf --set-rpath '$ORIGIN' "$patched"
  mv "$patched" "$library"
  echo "torchsharp-compat: patched $library" >&2
done
