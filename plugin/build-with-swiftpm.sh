#!/bin/sh
# meson's custom target: build the plugin in release mode with SwiftPM into a scratch folder and
# copy the shared object to where meson expects it. usage: SWIFT SOURCE_DIR SCRATCH OUTPUT
set -eu
"$1" build --package-path "$2" --scratch-path "$3" -c release --product gstinsertablestreams
# Installed stripped: the symbols of the statically linked Swift runtime are most of the file.
strip --strip-unneeded -o "$4" "$3/release/libgstinsertablestreams.so"
