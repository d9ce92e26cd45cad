import Foundation
import XCTest

/// The built shared object as GStreamer users meet it: gst-inspect, the exported symbols, and a
/// Python application loading it through GST_PLUGIN_PATH. Needs `swift build` to have built
/// libgstinsertablestreams.so (scripts/test.sh does).
final class PluginTests: XCTestCase {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// A folder holding only the plugin, and a private registry, like an installed plugin.
    static let pluginFolder: URL? = {
        let candidates = [".build/debug", ".build/release"].map {
            packageRoot.appendingPathComponent($0).appendingPathComponent("libgstinsertablestreams.so")
        }
        guard let built = candidates.filter({ FileManager.default.fileExists(atPath: $0.path) })
            .max(by: { modified($0) < modified($1) }) else { return nil }
        let folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("insertablestreams-plugin-\(getpid())")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let target = folder.appendingPathComponent("libgstinsertablestreams.so")
        try? FileManager.default.removeItem(at: target)
        try? FileManager.default.copyItem(at: built, to: target)
        return folder
    }()

    static func modified(_ url: URL) -> Date {
        (try? FileManager.default.attributesOfItem(atPath: url.path)[.modificationDate] as? Date) ?? .distantPast
    }

    func run(_ executable: String, _ arguments: [String], environment extra: [String: String] = [:]) throws -> (status: Int32, output: String) {
        try Self.run(executable, arguments, environment: extra)
    }

    /// Runs `executable` with the built plugin on GST_PLUGIN_PATH and a private registry.
    static func run(_ executable: String, _ arguments: [String], environment extra: [String: String] = [:]) throws -> (status: Int32, output: String) {
        guard let folder = Self.pluginFolder else {
            throw TestFailure("libgstinsertablestreams.so is not built: run `swift build` first")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["GST_PLUGIN_PATH"] = folder.path
        environment["GST_REGISTRY"] = folder.appendingPathComponent("registry.bin").path
        environment.removeValue(forKey: "LD_LIBRARY_PATH")  // the plugin must not need the toolchain's
        environment.merge(extra) { $1 }
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testInspectDocumentsElementsAndProperties() throws {
        let plugin = try run("/usr/bin/gst-inspect-1.0", ["insertablestreams"])
        XCTAssertEqual(plugin.status, 0, plugin.output)
        XCTAssertTrue(plugin.output.contains("trackprocessor: Track processor (MediaStreamTrackProcessor)"), plugin.output)
        XCTAssertTrue(plugin.output.contains("trackgenerator: Track generator (VideoTrackGenerator)"), plugin.output)
        XCTAssertTrue(plugin.output.contains("rtpscripttransform: RTP script transform (RTCRtpScriptTransform)"), plugin.output)

        let processor = try run("/usr/bin/gst-inspect-1.0", ["trackprocessor"])
        XCTAssertEqual(processor.status, 0, processor.output)
        for expected in ["Sink/Video/Audio", "max-buffer-size", "Frames the ring holds (maxBufferSize); when it is full the oldest is dropped, or with leaky=no upstream waits",
                         "Enum \"GstTrackProcessorLeaky\" Default: 1, \"downstream\"", "(0): no               - Not leaky",
                         "Range: 0 - 1024 Default: 0", "pipe-to", "Known: app, blur, delay, gain, grayscale, identity, invert, mirror, pip, sepia",
                         "\"transform-frame\" :  GstSample* user_function (GstElement* object,", "\"post-message\" :  void user_function (GstElement* object,",
                         "discarded-frames", "format: { (string)I420, (string)Y42B, (string)Y444, (string)NV12, (string)RGBA"] {
            XCTAssertTrue(processor.output.contains(expected), "gst-inspect trackprocessor lacks: \(expected)")
        }
        let generator = try run("/usr/bin/gst-inspect-1.0", ["trackgenerator"])
        for expected in ["Source/Video/Audio", "(0): video", "(1): audio", "muted", "processing-deadline",
                         "changeable in NULL, READY, PAUSED or PLAYING state"] {
            XCTAssertTrue(generator.output.contains(expected), "gst-inspect trackgenerator lacks: \(expected)")
        }
        let script = try run("/usr/bin/gst-inspect-1.0", ["rtpscripttransform"])
        for expected in ["Filter/Network/RTP", "video/x-vp8", "alignment: au", "audio/x-opus", "audio/G722",
                         "Known (parameters): app (name); framecryptor (profile, ratchet-salt, ratchet-window-size, failure-tolerance, key-ring-size, sif-trailer, iv, wait-for-key-frame); identity; negate (clear); sframe (suite, clear, wait-for-key-frame, replay-window)", "keys=\"<id>:<hex>,...\"", "Boxed pointer of type \"GstStructure\"", "(2): receive",
                         "Range: 1 - 10000 Default: 60", "rejected-frames", "key-frame-requests",
                         "\"message\" :  void user_function (GstElement* object,", "\"post-message\" :  void user_function (GstElement* object,",
                         "\"generate-key-frame\" :  gboolean user_function (GstElement* object,", "\"send-key-frame-request\" :  gboolean user_function (GstElement* object);",
                         "\"transform-frame\" :  GstSample* user_function (GstElement* object,", "\"post-worker-message\" :  void user_function (GstElement* object,"] {
            XCTAssertTrue(script.output.contains(expected), "gst-inspect rtpscripttransform lacks: \(expected)")
        }
    }

    func testOnlyTheDescriptorIsExportedAndNoToolchainPath() throws {
        let library = Self.pluginFolder!.appendingPathComponent("libgstinsertablestreams.so").path
        let symbols = try run("/usr/bin/nm", ["-D", "--defined-only", library])
        let global = symbols.output.split(separator: "\n").filter { line in
            let fields = line.split(separator: " ")
            return fields.count == 3 && fields[1].uppercased() == fields[1] && fields[1] != "A"
        }
        XCTAssertEqual(global.map { String($0.split(separator: " ")[2]) }, ["gst_plugin_insertablestreams_get_desc"])
        let dynamic = try run("/usr/bin/readelf", ["-d", library])
        XCTAssertFalse(dynamic.output.contains("/opt/swift"), "the plugin must not point into the Swift toolchain")
        XCTAssertFalse(dynamic.output.contains("libswiftCore"), "the Swift runtime is linked in statically")
        XCTAssertTrue(dynamic.output.contains("NODELETE"))
    }

    /// GStreamer's own leaks tracer: after each gst-launch run, no GstObject or GstMiniObject
    /// (buffers, caps, events, pools...) may be left alive: shared buffers written out of place,
    /// frames dropped by the ring, the PiP inset, planar audio, and a start-up error.
    func testLeaksTracerFindsNothing() throws {
        let pipelines = [
            "videotestsrc num-buffers=40 ! video/x-raw,format=RGBA,width=64,height=48 ! tee name=t ! queue ! "
                + "trackprocessor worker=\"sepia ! mirror ! blur radius=2\" pipe-to=gen sync=false trackgenerator name=gen ! fakesink "
                + "t. ! queue ! trackprocessor worker=\"delay ms=5\" sync=false max-buffer-size=2",
            "videotestsrc num-buffers=20 ! video/x-raw,format=I420,width=64,height=48 ! "
                + "trackprocessor name=map worker=\"pip source=inset\" pipe-to=gen trackgenerator name=gen ! fakesink "
                + "videotestsrc num-buffers=20 pattern=white ! video/x-raw,format=I420,width=32,height=24 ! trackprocessor name=inset",
            "audiotestsrc num-buffers=20 ! audio/x-raw,format=S16LE,layout=non-interleaved,channels=2 ! "
                + "trackprocessor worker=\"gain db=-3\" pipe-to=gen sync=false trackgenerator name=gen kind=audio ! fakesink",
            "videotestsrc num-buffers=5 ! trackprocessor worker=nonexistent pipe-to=gen trackgenerator name=gen ! fakesink",
            "videotestsrc num-buffers=30 ! video/x-raw,width=64,height=48 ! vp8enc deadline=1 ! tee name=t ! queue ! "
                + "rtpscripttransform worker=negate ! rtpvp8pay ! rtpvp8depay ! rtpscripttransform worker=\"negate ! identity\" ! vp8dec ! fakesink "
                + "t. ! queue ! rtpscripttransform worker=\"negate clear=none\" max-pending-frames=2 ! fakesink",
            "videotestsrc num-buffers=20 ! video/x-raw,width=64,height=48 ! openh264enc ! rtpscripttransform worker=negate ! "
                + "rtph264pay ! rtph264depay ! rtpscripttransform worker=negate ! avdec_h264 ! fakesink "
                + "audiotestsrc num-buffers=20 ! opusenc ! rtpscripttransform worker=negate ! rtpopuspay ! rtpopusdepay ! "
                + "rtpscripttransform worker=negate ! opusdec ! fakesink",
            "videotestsrc num-buffers=5 ! vp8enc ! rtpscripttransform worker=nonexistent ! fakesink",
            // sframe: good key (VP8, H.264 escaping), wrong key (every frame refused), keyless sender, bad key.
            "videotestsrc num-buffers=20 ! video/x-raw,width=64,height=48 ! vp8enc deadline=1 ! rtpscripttransform worker=sframe options=\"o,key=(string)000102030405060708090a0b0c0d0e0f\" ! "
                + "rtpvp8pay ! rtpvp8depay ! rtpscripttransform worker=sframe options=\"o,key=(string)000102030405060708090a0b0c0d0e0f\" ! vp8dec ! fakesink "
                + "videotestsrc num-buffers=20 ! video/x-raw,width=64,height=48 ! openh264enc ! rtpscripttransform worker=sframe options=\"o,key=(string)000102030405060708090a0b0c0d0e0f\" ! "
                + "rtph264pay ! rtph264depay ! rtpscripttransform worker=sframe options=\"o,key=(string)ffeeddccbbaa99887766554433221100\" ! fakesink "
                + "audiotestsrc num-buffers=20 ! opusenc ! rtpscripttransform side=send worker=sframe ! fakesink",
            "audiotestsrc num-buffers=5 ! opusenc ! rtpscripttransform worker=sframe options=\"o,key=(string)00\" ! fakesink",
        ]
        for pipeline in pipelines {
            let result = try run("/usr/bin/gst-launch-1.0", ["-q"] + splitArguments(pipeline),
                                 environment: ["GST_TRACERS": "leaks", "GST_DEBUG": "GST_TRACER:7"])
            XCTAssertTrue(result.output.contains("object-alive.class"), "the leaks tracer did not run: \(result.output.suffix(500))")
            let leaks = result.output.split(separator: "\n").filter { $0.contains("object-alive, type-name=") && !$0.contains("format string") }
            XCTAssertEqual(leaks.count, 0, "\(pipeline):\n\(leaks.prefix(10).joined(separator: "\n"))")
        }
    }

    /// gst-launch arguments: whitespace-separated, double quotes grouping (as a shell would).
    private func splitArguments(_ line: String) -> [String] {
        var arguments: [String] = [], current = "", quoted = false
        for character in line {
            if character == "\"" { quoted.toggle(); current.append(character) }
            else if character == " " && !quoted { if !current.isEmpty { arguments.append(current); current = "" } }
            else { current.append(character) }
        }
        if !current.isEmpty { arguments.append(current) }
        return arguments.map { $0.replacingOccurrences(of: "\"", with: "") }
    }

    /// examples/c/transform-frame.c, built with the C compiler: the transform-frame signal's C ABI
    /// (a handler rewriting encoded and raw frames in place, pictures compared with the
    /// pipeline without it).
    func testCApplicationHandlesTransformFrame() throws {
        let source = Self.packageRoot.appendingPathComponent("examples/c/transform-frame.c").path
        let binary = NSTemporaryDirectory() + "transform-frame-\(getpid())"
        let build = try run("/bin/sh", ["-c", "cc -Wall -Werror -Wno-unused-parameter '\(source)' -o '\(binary)' $(pkg-config --cflags --libs gstreamer-1.0)"])
        XCTAssertEqual(build.status, 0, build.output)
        defer { try? FileManager.default.removeItem(atPath: binary) }
        let result = try run(binary, [], environment: ["GST_TRACERS": "leaks", "GST_DEBUG": "GST_TRACER:7"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("object-alive.class"), "the leaks tracer did not run: \(result.output.suffix(500))")
        let leaks = result.output.split(separator: "\n").filter { $0.contains("object-alive, type-name=") && !$0.contains("format string") }
        XCTAssertEqual(leaks.count, 0, "samples, buffers or caps left alive by the handlers' calls:\n\(leaks.prefix(10).joined(separator: "\n"))")
        XCTAssertTrue(result.output.contains("encoded: 60 frames through 2 handlers, 60 written in place, decoded 30, pictures identical"), result.output)
        XCTAssertTrue(result.output.contains("raw: 10 frames,") && result.output.contains("output is 255 - input"), result.output)
        XCTAssertTrue(result.output.contains("c-app: passed"), result.output)
    }

    func testPythonApplicationUsesThePlugin() throws {
        let script = Self.packageRoot.appendingPathComponent("Tests/python/test_plugin.py").path
        let result = try run("/usr/bin/python3", [script])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("python: 6 passed, 0 failed"), result.output)
    }

    /// Python handlers of transform-frame (Tests/python/test_app_transform.py): the numpy
    /// vignette against numpy's own result, identity without handler, drops, details, SFrame in
    /// Python interoperating with the built-in sframe both ways, post-worker-message, a slow
    /// handler on the ring, and bad returns refused with warnings.
    func testPythonHandlersTransformFrames() throws {
        let script = Self.packageRoot.appendingPathComponent("Tests/python/test_app_transform.py").path
        let result = try run("/usr/bin/python3", [script])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("python-app: 19 passed, 0 failed"), result.output)
    }

    /// A Python application with two webrtcbin peers and rtpscripttransform worker=negate on both
    /// ends: intact SMPTE bars and 440 Hz tone, counters, send-key-frame-request bringing a key
    /// frame, generate-key-frame refused on the receive side. It times out by itself (40 s).
    func testPythonDrivesTwoWebRTCPeers() throws {
        let script = Self.packageRoot.appendingPathComponent("Tests/python/test_webrtc.py").path
        let result = try run("/usr/bin/python3", [script])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("python-webrtc: 5 passed, 0 failed"), result.output)
    }
}
