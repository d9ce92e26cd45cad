// swift-tools-version:6.0
//
// A transform module for the `insertablestreams` GStreamer plugin: a shared library the plugin
// loads at run time (GST_INSERTABLE_STREAMS_MODULE_PATH), adding the transforms `hats` (raw
// video, trackprocessor) and `trailer` (encoded frames, rtpscripttransform) to `worker` chains.
//
//   TemplateTransforms   the transforms; they import TransformModuleKit only, so the same source
//                        also compiles into a Swift application (InsertableStreams.registerModule)
//   TemplateModule       the module's entry point, built into libhats-module.so with its own
//                        static Swift runtime and one exported symbol
import PackageDescription
import Foundation

let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path

let package = Package(
    name: "hats-module",
    products: [
        // -> .build/<configuration>/libhats-module.so
        .library(name: "hats-module", type: .dynamic, targets: ["TemplateModule"]),
        // The transforms alone, for applications that register them in process.
        .library(name: "TemplateTransforms", targets: ["TemplateTransforms"]),
    ],
    dependencies: [
        // Outside this repository, depend on it by URL and version instead:
        // .package(url: "https://github.com/gst-insertable-streams/gst-insertable-streams.git", from: "0.3.0"),
        .package(name: "gst-insertable-streams", path: "../.."),
    ],
    targets: [
        .target(name: "TemplateTransforms",
                dependencies: [.product(name: "TransformModuleKit", package: "gst-insertable-streams")]),
        .target(name: "TemplateModule", dependencies: ["TemplateTransforms"],
                linkerSettings: [
                    .unsafeFlags([
                        // The module carries its own Swift runtime, as the plugin does; no toolchain needed.
                        "-static-stdlib",
                        // Export the entry point only: two modules' Swift runtimes never meet.
                        "-Xlinker", "--version-script=\(here)/exports.map",
                        // A Swift runtime cannot be unloaded.
                        "-Xlinker", "-znodelete",
                    ]),
                ]),
    ]
)
