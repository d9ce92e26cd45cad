// swift-tools-version:6.0
//
// The GStreamer plugin `insertablestreams`: the web's Insertable Streams for MediaStreamTrack
// (MediaStreamTrackProcessor / VideoTrackGenerator) as GStreamer elements written in Swift.
//
//   CGStreamer          C headers of GStreamer 1.22 plus inline wrappers for its macros
//   GStreamerBridge     the Swift <-> GObject subclassing layer every element uses
//   MediaStreams        VideoFrame / AudioData, the frame ring, TransformStream-like API
//   EncodedStreams      EncodedVideoFrame / EncodedAudioFrame, RTCRtpScriptTransformer-like API,
//                       codec frame layouts (which bytes payloaders need in clear)
//   SFrame              RFC 9605 end-to-end frame encryption (header, key schedule, AEADs), on swift-crypto
//   BuiltinTransforms   sepia, mirror, blur, pip, negate, ... (selected by the `worker` property)
//   InsertableStreams   the elements (one folder each) and their registration; library product
//   WebRTCLoopback      webrtcbin peers for examples and tests: two in one process, or one that
//                       calls a remote peer through a signalling callback
//   BrowserCall         a web page (RTCRtpScriptTransform + SFrame in JavaScript) and the server
//                       that serves it and connects it to a GStreamer peer (issue 5: interop)
//   plugin/             the shared object's descriptor and export list -> libgstinsertablestreams.so
import PackageDescription
import Foundation

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path

/// GStreamer's include directories from pkg-config. The system-library target does not use
/// `pkgConfig:` because SwiftPM warns about the `-pthread` that pkg-config reports.
func gstreamerIncludeFlags() -> [String] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["pkg-config", "--cflags-only-I", "gstreamer-video-1.0", "gstreamer-audio-1.0", "nice"]
    let pipe = Pipe()
    process.standardOutput = pipe
    var output = ""
    if (try? process.run()) != nil {
        process.waitUntilExit()
        output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }
    var directories = output.split(whereSeparator: { $0 == " " || $0 == "\n" })
        .filter { $0.hasPrefix("-I") }.map { String($0.dropFirst(2)) }
    if directories.isEmpty {  // Debian's locations, so the error names the missing package
        directories = ["/usr/include/gstreamer-1.0", "/usr/include/glib-2.0",
                       "/usr/lib/x86_64-linux-gnu/glib-2.0/include", "/usr/include/orc-0.4"]
    }
    return directories.flatMap { ["-Xcc", "-I\($0)"] }
}
let gstreamerSwiftSettings: [SwiftSetting] = [.unsafeFlags(gstreamerIncludeFlags())]

let package = Package(
    name: "gst-insertable-streams",
    products: [
        // The GStreamer plugin. The file name libgst<NAME>.so decides the descriptor symbol
        // GStreamer looks up: gst_plugin_insertablestreams_get_desc.
        .library(name: "gstinsertablestreams", type: .dynamic, targets: ["InsertableStreamsPlugin"]),
        // For Swift applications: the frame/stream API and in-process element registration.
        .library(name: "InsertableStreams", targets: ["InsertableStreams"]),
        .executable(name: "custom-transform-example", targets: ["CustomTransformExample"]),
        .executable(name: "webrtc-loopback", targets: ["WebRTCLoopbackExample"]),
        // Serves the E2EE call page and runs the GStreamer peer it calls (README "Browser interop").
        .executable(name: "browser-call", targets: ["BrowserCallServer"]),
        // SFrame throughput (benchmarks/bench.py --only sframe); not part of the plugin or the tests.
        .executable(name: "sframe-benchmark", targets: ["SFrameBenchmark"]),
    ],
    dependencies: [
        // Cryptography for SFrame (RFC 9605): AES-GCM, HMAC, HKDF (Crypto) and AES-CTR (CryptoExtras).
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        // HTTP + WebSocket server for the browser interop call (no SwiftNIO: small, quick to build).
        .package(url: "https://github.com/swhitty/FlyingFox.git", from: "0.27.1"),
    ],
    targets: [
        .systemLibrary(name: "CGStreamer"),
        .target(name: "GStreamerBridge", dependencies: ["CGStreamer"], swiftSettings: gstreamerSwiftSettings),
        // The generic transformer / chain / catalog / worker grammar / messages: no GStreamer.
        .target(name: "TransformCore"),
        // The one hand-off queue (and its lock): no GStreamer.
        .target(name: "Handoff"),
        .target(name: "MediaStreams", dependencies: ["CGStreamer", "GStreamerBridge", "TransformCore", "Handoff"],
                swiftSettings: gstreamerSwiftSettings),
        .target(name: "EncodedStreams", dependencies: ["CGStreamer", "GStreamerBridge", "MediaStreams", "TransformCore"],
                swiftSettings: gstreamerSwiftSettings),
        .target(name: "SFrame", dependencies: [
                    .product(name: "Crypto", package: "swift-crypto"),
                    .product(name: "CryptoExtras", package: "swift-crypto"),
                ]),
        .target(name: "BuiltinTransforms", dependencies: ["MediaStreams", "EncodedStreams", "SFrame"],
                swiftSettings: gstreamerSwiftSettings),
        .target(name: "InsertableStreams",
                dependencies: ["CGStreamer", "GStreamerBridge", "MediaStreams", "EncodedStreams", "BuiltinTransforms"],
                swiftSettings: gstreamerSwiftSettings),
        .target(name: "WebRTCLoopback", dependencies: ["CGStreamer", "InsertableStreams"],
                swiftSettings: gstreamerSwiftSettings,
                linkerSettings: [.linkedLibrary("gstwebrtc-1.0"), .linkedLibrary("gstsdp-1.0"), .linkedLibrary("nice")]),
        .executableTarget(name: "WebRTCLoopbackExample", dependencies: ["WebRTCLoopback", "InsertableStreams"],
                          swiftSettings: gstreamerSwiftSettings),
        .target(name: "BrowserCall",
                dependencies: ["CGStreamer", "WebRTCLoopback", "InsertableStreams",
                               .product(name: "FlyingFox", package: "FlyingFox")],
                resources: [.copy("Web")],
                swiftSettings: gstreamerSwiftSettings),
        .executableTarget(name: "BrowserCallServer", dependencies: ["BrowserCall", "CGStreamer", "InsertableStreams"],
                          swiftSettings: gstreamerSwiftSettings),
        .target(
            name: "InsertableStreamsPlugin",
            dependencies: ["InsertableStreams"],
            path: "plugin",
            exclude: ["exports.map", "build-with-swiftpm.sh"],
            swiftSettings: gstreamerSwiftSettings,
            linkerSettings: [
                .unsafeFlags([
                    // The Swift runtime goes inside the plugin: no toolchain rpath is needed.
                    "-static-stdlib",
                    // FoundationEssentials (swift-crypto's Data) needs these; autolinking misses them.
                    "-l_FoundationCollections", "-l_FoundationCShims",
                    // Export only gst_plugin_insertablestreams_get_desc.
                    "-Xlinker", "--version-script=\(packageRoot)/plugin/exports.map",
                    // The Swift runtime cannot be unloaded; GStreamer unloads plugins whose init fails.
                    "-Xlinker", "-znodelete",
                ]),
            ]),
        .executableTarget(name: "CustomTransformExample", dependencies: ["InsertableStreams"],
                          swiftSettings: gstreamerSwiftSettings),
        .executableTarget(name: "SFrameBenchmark", dependencies: ["SFrame"]),
        // The transform core and the hand-off queue alone: fast, no GStreamer.
        .testTarget(name: "CoreTests", dependencies: ["TransformCore", "Handoff"]),
        .testTarget(name: "InsertableStreamsTests",
                    dependencies: ["InsertableStreams", "BuiltinTransforms", "EncodedStreams", "CGStreamer",
                                   "GStreamerBridge", "Handoff", "SFrame"],
                    swiftSettings: gstreamerSwiftSettings,
                    linkerSettings: [.linkedLibrary("gstcheck-1.0")]),
        // The examples (webrtcbin loopback, browser call with FlyingFox) and their tests, apart
        // from the plugin's.
        .testTarget(name: "ExampleTests",
                    dependencies: ["InsertableStreams", "CGStreamer", "WebRTCLoopback", "BrowserCall"],
                    swiftSettings: gstreamerSwiftSettings),
    ]
)
