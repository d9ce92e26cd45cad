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

    func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
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

        let processor = try run("/usr/bin/gst-inspect-1.0", ["trackprocessor"])
        XCTAssertEqual(processor.status, 0, processor.output)
        for expected in ["Sink/Video/Audio", "max-buffer-size", "Frames the ring holds before it drops the oldest",
                         "Range: 0 - 1024 Default: 0", "pipe-to", "Known: blur, delay, gain, grayscale, identity, invert, mirror, pip, sepia",
                         "discarded-frames", "format: { (string)I420, (string)Y42B, (string)Y444, (string)NV12, (string)RGBA"] {
            XCTAssertTrue(processor.output.contains(expected), "gst-inspect trackprocessor lacks: \(expected)")
        }
        let generator = try run("/usr/bin/gst-inspect-1.0", ["trackgenerator"])
        for expected in ["Source/Video/Audio", "(0): video", "(1): audio", "muted", "processing-deadline",
                         "changeable in NULL, READY, PAUSED or PLAYING state"] {
            XCTAssertTrue(generator.output.contains(expected), "gst-inspect trackgenerator lacks: \(expected)")
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

    func testPythonApplicationUsesThePlugin() throws {
        let script = Self.packageRoot.appendingPathComponent("Tests/python/test_plugin.py").path
        let result = try run("/usr/bin/python3", [script])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("python: 5 passed, 0 failed"), result.output)
    }
}
