// swift-tools-version:6.0
//
// The GStreamer plugin `insertablestreams`: the web's Insertable Streams for MediaStreamTrack
// (MediaStreamTrackProcessor / VideoTrackGenerator) as GStreamer elements written in Swift.
//
//   CGStreamer          C headers of GStreamer 1.22 (pkg-config) plus inline wrappers for its macros;
//                       CGStreamerWebRTC (webrtcbin, SDP, libnice) and CGStreamerCheck (GstHarness) for
//                       the examples and the tests only
//   GStreamerBridge     the Swift <-> GObject subclassing layer every element uses
//   MediaStreams        VideoFrame / AudioData, the frame ring, TransformStream-like API
//   EncodedStreams      EncodedVideoFrame / EncodedAudioFrame, RTCRtpScriptTransformer-like API,
//                       codec frame layouts (which bytes payloaders need in clear)
//   OpenSSLCrypto       AES-GCM / AES-CTR / HMAC / HKDF / PBKDF2 from the system's libcrypto (OpenSSL 3),
//                       EVP contexts kept per key
//   SFrame              RFC 9605 end-to-end frame encryption (header, key schedule, AEADs)
//   FrameCryptor        the LiveKit / Jitsi E2EE frame format (trailer, per-codec clear bytes, key ring, ratchet)
//   BuiltinTransforms   sepia, mirror, blur, pip, negate, ... (selected by the `worker` property)
//   InsertableStreams   the elements (one folder each), the `app` transform (transform-frame signal) and
//                       their registration; library product (no unsafe flags: other packages can depend on it)
//   WebRTCLoopback      webrtcbin peers for examples and tests: two in one process, or one that
//                       calls a remote peer through a signalling callback
//   BrowserCall         a web page (RTCRtpScriptTransform + SFrame or LiveKit's format in JavaScript),
//                       the server that serves it and connects it to a GStreamer peer (issue 5: interop),
//                       headless Chromium / Firefox (Firefox in a private network namespace)
//   plugin/             the shared object's descriptor and export list -> libgstinsertablestreams.so
import PackageDescription
import Foundation

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path

let package = Package(
    name: "gst-insertable-streams",
    products: [
        // The GStreamer plugin. The file name libgst<NAME>.so decides the descriptor symbol
        // GStreamer looks up: gst_plugin_insertablestreams_get_desc.
        .library(name: "gstinsertablestreams", type: .dynamic, targets: ["InsertableStreamsPlugin"]),
        // For Swift applications: the frame/stream API and in-process element registration.
        .library(name: "InsertableStreams", targets: ["InsertableStreams"]),
        // For transform modules (shared libraries the plugin loads at run time) and for
        // applications registering the same transforms in process: no GStreamer.
        .library(name: "TransformModuleKit", targets: ["TransformModuleKit"]),
        .executable(name: "custom-transform-example", targets: ["CustomTransformExample"]),
        .executable(name: "webrtc-loopback", targets: ["WebRTCLoopbackExample"]),
        // Serves the E2EE call page and runs the GStreamer peer it calls (README "Browser interop").
        .executable(name: "browser-call", targets: ["BrowserCallServer"]),
        // SFrame and framecryptor throughput (benchmarks/bench.py --only sframe, benchmarks/run-crypto.sh);
        // not part of the plugin or the tests.
        .executable(name: "sframe-benchmark", targets: ["SFrameBenchmark"]),
    ],
    dependencies: [
        // HTTP + WebSocket server for the browser interop call (no SwiftNIO: small, quick to build).
        .package(url: "https://github.com/swhitty/FlyingFox.git", from: "0.27.1"),
    ],
    targets: [
        // GStreamer's headers come from pkg-config (gstreamer-video-1.0 and what it requires: the
        // same folder holds the audio and RTP headers); the module map names the libraries.
        .systemLibrary(name: "CGStreamer", pkgConfig: "gstreamer-video-1.0",
                       providers: [.apt(["libgstreamer1.0-dev", "libgstreamer-plugins-base1.0-dev"])]),
        // webrtcbin, SDP and libnice headers: the webrtc examples only (libnice's headers need its own
        // folder on the path; the GStreamer ones come with CGStreamer).
        .systemLibrary(name: "CGStreamerWebRTC", pkgConfig: "nice",
                       providers: [.apt(["libgstreamer-plugins-bad1.0-dev", "libnice-dev"])]),
        // GstHarness: the tests only.
        .systemLibrary(name: "CGStreamerCheck", pkgConfig: "gstreamer-check-1.0",
                       providers: [.apt(["libgstreamer1.0-dev"])]),
        // The transform module C ABI (insertable_streams_module.h): one header, no library.
        .systemLibrary(name: "CTransformModule"),
        .target(name: "GStreamerBridge", dependencies: ["CGStreamer"]),
        // The generic transformer / chain / catalog / worker grammar / messages: no GStreamer.
        .target(name: "TransformCore"),
        // The one hand-off queue (and its lock): no GStreamer.
        .target(name: "Handoff"),
        .target(name: "MediaStreams", dependencies: ["CGStreamer", "GStreamerBridge", "TransformCore", "Handoff"]),
        .target(name: "EncodedStreams", dependencies: ["CGStreamer", "GStreamerBridge", "MediaStreams", "TransformCore", "FrameCryptor"]),
        // Debian's libcrypto (OpenSSL 3): headers and library from pkg-config.
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // AES-GCM, AES-CTR, HMAC, HKDF, PBKDF2, SHA-256, random bytes on libcrypto: contexts per key.
        .target(name: "OpenSSLCrypto", dependencies: ["COpenSSL"]),
        .target(name: "SFrame", dependencies: ["OpenSSLCrypto"]),
        // LiveKit / Jitsi frame encryption (the `framecryptor` transform's core): no GStreamer.
        .target(name: "FrameCryptor", dependencies: ["OpenSSLCrypto"]),
        .target(name: "BuiltinTransforms", dependencies: ["MediaStreams", "EncodedStreams", "SFrame", "FrameCryptor"]),
        // Module authors' side of the C ABI: ModuleTransform, frames, controller, the entry tables.
        .target(name: "TransformModuleKit", dependencies: ["CTransformModule", "TransformCore"]),
        // The plugin's side: loading modules (GST_INSERTABLE_STREAMS_MODULE_PATH) and running their transforms.
        .target(name: "TransformModules",
                dependencies: ["CTransformModule", "TransformModuleKit", "CGStreamer", "GStreamerBridge", "MediaStreams", "EncodedStreams"]),
        .target(name: "InsertableStreams",
                dependencies: ["CGStreamer", "GStreamerBridge", "MediaStreams", "EncodedStreams", "BuiltinTransforms", "TransformModules"]),
        .target(name: "WebRTCLoopback", dependencies: ["CGStreamer", "CGStreamerWebRTC", "InsertableStreams"]),
        .executableTarget(name: "WebRTCLoopbackExample", dependencies: ["WebRTCLoopback", "InsertableStreams"]),
        .target(name: "BrowserCall",
                dependencies: ["CGStreamer", "CGStreamerWebRTC", "WebRTCLoopback", "InsertableStreams", "EncodedStreams",
                               .product(name: "FlyingFox", package: "FlyingFox")],
                resources: [.copy("Web")]),
        .executableTarget(name: "BrowserCallServer", dependencies: ["BrowserCall", "CGStreamer", "InsertableStreams"]),
        .target(
            name: "InsertableStreamsPlugin",
            dependencies: ["InsertableStreams"],
            path: "plugin",
            exclude: ["exports.map", "build-with-swiftpm.sh"],
            linkerSettings: [
                .unsafeFlags([
                    // The Swift runtime goes inside the plugin: no toolchain rpath is needed.
                    "-static-stdlib",
                    // Export only gst_plugin_insertablestreams_get_desc.
                    "-Xlinker", "--version-script=\(packageRoot)/plugin/exports.map",
                    // The Swift runtime cannot be unloaded; GStreamer unloads plugins whose init fails.
                    "-Xlinker", "-znodelete",
                ]),
            ]),
        .executableTarget(name: "CustomTransformExample", dependencies: ["InsertableStreams"]),
        // The template module's transforms compiled into this package too: the tests register the
        // same sources in process (InsertableStreams.registerModule) that libhats-module.so is built from.
        .target(name: "TemplateTransforms", dependencies: ["TransformModuleKit"],
                path: "templates/transform-module/Sources/TemplateTransforms"),
        .executableTarget(name: "SFrameBenchmark", dependencies: ["SFrame", "FrameCryptor"]),
        // The transform core and the hand-off queue alone: fast, no GStreamer.
        .testTarget(name: "CoreTests", dependencies: ["TransformCore", "Handoff"]),
        .testTarget(name: "InsertableStreamsTests",
                    dependencies: ["InsertableStreams", "BuiltinTransforms", "EncodedStreams", "CGStreamer",
                                   "GStreamerBridge", "Handoff", "SFrame", "CGStreamerCheck",
                                   "TransformModuleKit", "TemplateTransforms", "FrameCryptor", "OpenSSLCrypto"],
),
        // The examples (webrtcbin loopback, browser call with FlyingFox) and their tests, apart
        // from the plugin's.
        .testTarget(name: "ExampleTests",
                    dependencies: ["InsertableStreams", "CGStreamer", "CGStreamerWebRTC", "WebRTCLoopback", "BrowserCall"]),
    ]
)
