#!/usr/bin/env bash
# Builds the transform modules the tests load (incremental; about 40 s from scratch):
#   .build/modules/template/libhats-module.so     templates/transform-module (hats, trailer)
#   .build/modules/second/libsecond-module.so     Tests/ModulePackages/second-module (swiftmirror, passthrough, fail-every)
#   .build/modules/c/libinvert-module.so          examples/c/invert-module.c (c-invert, a module in C)
#   .build/modules/bad/...                        Tests/ModulePackages/c/test-modules.c variants (bad input)
# Usage: scripts/build-modules.sh [debug|release]   (default debug; release goes to .build/modules-release/)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"
configuration="${1:-debug}"
out="$root/.build/modules"
[ "$configuration" = release ] && out="$root/.build/modules-release"
mkdir -p "$out/template" "$out/second" "$out/c" "$out/bad"
build() {  # package directory, library file, destination folder
    (cd "$1" && swift build -c "$configuration" 2>&1 | grep -v "prohibited flag(s): -pthread" | grep -E "error|warning: |Compiling|Build complete" | tail -3)
    # Copy then rename: a process that has the previous file loaded keeps its mapping intact.
    cp "$1/.build/$configuration/$2" "$3/.$2.new" && mv -f "$3/.$2.new" "$3/$2"
}
build "$root/templates/transform-module" libhats-module.so "$out/template"
build "$root/Tests/ModulePackages/second-module" libsecond-module.so "$out/second"
header="-I$root/Sources/CTransformModule"
cc -shared -fPIC -O2 -Wall -fvisibility=hidden $header "$root/examples/c/invert-module.c" -o "$out/c/libinvert-module.so"
cc -shared -fPIC -O2 -Wall -fvisibility=hidden $header -DTWICE "$root/Tests/ModulePackages/c/test-modules.c" -o "$out/bad/libtwice-module.so"
cc -shared -fPIC -O2 -Wall -fvisibility=hidden $header -DBAD_ABI "$root/Tests/ModulePackages/c/test-modules.c" -o "$out/bad/libbad-abi-module.so"
cc -shared -fPIC -O2 -Wall -fvisibility=hidden $header -DNO_ENTRY "$root/Tests/ModulePackages/c/test-modules.c" -o "$out/bad/libno-entry.so"
cc -shared -fPIC -O2 -Wall -fvisibility=hidden $header -DBAD_TABLE "$root/Tests/ModulePackages/c/test-modules.c" -o "$out/bad/libbad-table-module.so"
printf 'this is not a shared library\n' > "$out/bad/libtext.so"
echo "modules in $out"
