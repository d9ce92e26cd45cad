#!/usr/bin/env bash
# Proves that an outside Swift package can depend on this repository by URL and version and use
# the InsertableStreams library product (nothing it exposes uses unsafe flags): builds
# Tests/DependentPackage against a tagged clone of HEAD (committed work only) and runs it.
# About 3-4 minutes on 2 cores (the package builds the library and its dependencies from scratch);
# CI runs it after the test suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git clone -q "$root" "$work/gst-insertable-streams"
git -C "$work/gst-insertable-streams" tag 0.2.0
cp -r "$root/Tests/DependentPackage" "$work/app"
sed -i "s|https://github.com/gst-insertable-streams/gst-insertable-streams.git|file://$work/gst-insertable-streams|" "$work/app/Package.swift"
cd "$work/app"
swift build 2>&1 | grep -v "prohibited flag(s): -pthread" | tail -3
GST_REGISTRY="$work/registry.bin" ./.build/debug/DependentApp
