import CGStreamer
import Foundation
import InsertableStreams
import TemplateTransforms
import TransformModuleKit
import XCTest

/// Transform modules: the template's transforms registered in process from the same sources
/// libhats-module.so is built from, modules loaded with dlopen into this process and into
/// gst-launch-1.0 next to the installed plugin, and every way a module can be wrong.
final class ModuleTests: XCTestCase {
    /// The template package, the second Swift module and the C modules, built once per test run
    /// by scripts/build-modules.sh (incremental).
    static let modules: Result<URL, TestFailure> = {
        let root = PluginTests.packageRoot
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [root.appendingPathComponent("scripts/build-modules.sh").path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return .failure(TestFailure("scripts/build-modules.sh: \(error)")) }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return .failure(TestFailure("scripts/build-modules.sh failed:\n\(output)")) }
        return .success(root.appendingPathComponent(".build/modules"))
    }()

    static func module(_ relative: String) throws -> String {
        try modules.get().appendingPathComponent(relative).path
    }

    /// The template's transforms in this process, through the module ABI like a loaded module.
    static let templateInProcess: [String] = {
        _ = TestEnvironment.ready
        return (try? InsertableStreams.registerModule(entry: { host in
            TransformModule.describe(name: "hats-module (in process)", transforms: [Hats.self, Trailer.self], host: host)
        })) ?? []
    }()

    /// The second Swift module (its own static Swift runtime) and the C test modules, dlopened here.
    static let loadedHere: Result<[String], TestFailure> = {
        _ = TestEnvironment.ready
        do {
            return .success(try ["second/libsecond-module.so", "bad/libtwice-module.so", "c/libinvert-module.so"].flatMap {
                try InsertableStreams.loadModule(path: module($0))
            })
        } catch {
            return .failure(TestFailure("\(error)"))
        }
    }()

    override func setUp() {
        _ = TestEnvironment.ready
        XCTAssertEqual(Self.templateInProcess, ["hats", "trailer"])
    }

    static let rgbaCaps = "video/x-raw,format=RGBA,width=64,height=48,framerate=30/1"

    /// Runs black RGBA frames through `worker` and returns the output frames' bytes.
    func blackFrames(worker: String, count: Int = 3, format: String = "RGBA") throws -> (frames: [CapturedBuffer], pipeline: TestPipeline) {
        let pipeline = try TestPipeline("""
            videotestsrc pattern=black num-buffers=\(count) ! video/x-raw,format=\(format),width=64,height=48,framerate=30/1 ! \
            trackprocessor name=p worker="\(worker)" pipe-to=modules-out sync=false max-buffer-size=64 \
            trackgenerator name=modules-out ! fakesink name=out
            """)
        let output = pipeline.collect("out")
        XCTAssertTrue(pipeline.runToEnd(), "\(pipeline.messages)")
        return (output.buffers, pipeline)
    }

    func testTheTemplateSourceRunsInProcessAndDrawsHats() throws {
        let (frames, _) = try blackFrames(worker: "hats count=2 height=25")
        XCTAssertEqual(frames.count, 3)
        for frame in frames {
            var hatPixels = 0
            for y in 0..<48 {
                for x in 0..<64 {
                    let pixel = Array(frame.bytes[(y * 64 + x) * 4..<(y * 64 + x) * 4 + 4])
                    if Hats.isHat(x: x, y: y, width: 64, height: 48, count: 2, heightPercent: 25) {
                        XCTAssertEqual(pixel, [230, 30, 200, 255], "(\(x),\(y)) is in a hat")
                        hatPixels += 1
                    } else {
                        XCTAssertEqual(pixel, [0, 0, 0, 255], "(\(x),\(y)) is outside the hats")
                    }
                }
            }
            XCTAssertGreaterThan(hatPixels, 100)
        }
    }

    func testHatsOnI420WriteLumaAndChroma() throws {
        let (frames, _) = try blackFrames(worker: "hats count=1 height=50", count: 1, format: "I420")
        let frame = try XCTUnwrap(frames.first)
        let layout = VideoLayout(caps: frame.caps)
        XCTAssertEqual(frame.bytes[layout.offsets[0] + 20 * layout.strides[0] + 32], Hats.yuv.y)   // inside
        XCTAssertEqual(frame.bytes[layout.offsets[0] + 40 * layout.strides[0] + 32], 16)          // below: black
        XCTAssertEqual(frame.bytes[layout.offsets[1] + 10 * layout.strides[1] + 16], Hats.yuv.u)
        XCTAssertEqual(frame.bytes[layout.offsets[2] + 10 * layout.strides[2] + 16], Hats.yuv.v)
    }

    func testTrailerAddsAndRemovesBytesInOrder() throws {
        let send = try HarnessTests.Harness("rtpscripttransform side=send worker=trailer", caps: HarnessTests.opusCaps)
        let receive = try HarnessTests.Harness("rtpscripttransform side=receive worker=\"trailer magic=ISM1\"", caps: HarnessTests.opusCaps)
        for index in 0..<20 {
            XCTAssertEqual(send.push(HarnessTests.opusFrame(index), pts: UInt64(index) * 20_000_000), GST_FLOW_OK)
        }
        for index in 0..<20 {
            let sent = try XCTUnwrap(send.pull())
            XCTAssertEqual(sent.pts, UInt64(index) * 20_000_000, "frames stay in order")
            XCTAssertEqual(sent.bytes, HarnessTests.opusFrame(index) + Array("ISM1".utf8) + [0, 0, 0, UInt8(index)])
            XCTAssertEqual(receive.push(sent.bytes, pts: sent.pts), GST_FLOW_OK)
            let received = try XCTUnwrap(receive.pull())
            XCTAssertEqual(received.bytes, HarnessTests.opusFrame(index))
            XCTAssertEqual(received.pts, sent.pts)
        }
    }

    /// The benchmark's encoded pair: the module's `swiftnegate` gives the built-in `negate`'s
    /// bytes on Opus frames (the TOC byte clear, every other byte inverted), and undoes itself.
    func testSwiftNegateModuleMatchesTheBuiltInNegate() throws {
        let builtin = try HarnessTests.Harness("rtpscripttransform side=send worker=negate", caps: HarnessTests.opusCaps)
        let module = try HarnessTests.Harness("rtpscripttransform side=send worker=swiftnegate", caps: HarnessTests.opusCaps)
        let back = try HarnessTests.Harness("rtpscripttransform side=receive worker=swiftnegate", caps: HarnessTests.opusCaps)
        for index in 0..<20 {
            let frame = HarnessTests.opusFrame(index)
            XCTAssertEqual(builtin.push(frame, pts: UInt64(index) * 20_000_000), GST_FLOW_OK)
            XCTAssertEqual(module.push(frame, pts: UInt64(index) * 20_000_000), GST_FLOW_OK)
            let expected = try XCTUnwrap(builtin.pull()).bytes, negated = try XCTUnwrap(module.pull()).bytes
            XCTAssertEqual(negated, expected)
            XCTAssertEqual(negated, [frame[0]] + frame.dropFirst().map { ~$0 })
            XCTAssertEqual(back.push(negated, pts: UInt64(index) * 20_000_000), GST_FLOW_OK)
            XCTAssertEqual(try XCTUnwrap(back.pull()).bytes, frame)
        }
    }

    func testReceiveSideDropsFramesWithoutTrailerAndTellsTheApplication() throws {
        let pipeline = try TestPipeline("""
            audiotestsrc num-buffers=12 ! opusenc ! rtpscripttransform side=receive worker=trailer ! fakesink name=out
            """)
        let output = pipeline.collect("out")
        XCTAssertTrue(pipeline.runToEnd(), "\(pipeline.messages)")
        XCTAssertEqual(output.count, 0, "no frame had a trailer")
        let missing = pipeline.messages.filter { $0.kind == .element && $0.structure.contains("trailer/missing") }
        XCTAssertEqual(missing.count, 1, "\(pipeline.messages)")
        XCTAssertTrue(missing.first?.structure.contains("dropped=(int)1") ?? false, "\(missing)")
    }

    func testAModuleTransformThatThrowsLosesOnlyThatFrame() throws {
        XCTAssertEqual(try Self.loadedHere.get(), ["swiftmirror", "passthrough", "swiftnegate", "fail-every", "halve", "c-twice", "c-invert"])
        let (frames, pipeline) = try blackFrames(worker: "fail-every n=3", count: 9)
        XCTAssertEqual(pipeline.uint64("p", "discarded-frames"), 0, "the ring holds every frame")
        XCTAssertEqual(frames.count, 6)
        XCTAssertEqual(pipeline.uint64("p", "failed-frames"), 3)
        let warnings = pipeline.messages.filter { $0.kind == .warning }
        XCTAssertTrue(warnings.contains { $0.text.contains("fail-every: frame 3 fails on purpose (n=3)") }, "\(warnings)")
    }

    func testANewSmallerFrameReplacesEachFrame() throws {
        _ = try Self.loadedHere.get()
        // hats on 64x48, then halve: 32x24 frames whose pixels are every other hat pixel.
        let (frames, _) = try blackFrames(worker: "hats count=2 height=25 ! halve", count: 3)
        XCTAssertEqual(frames.count, 3)
        for (index, frame) in frames.enumerated() {
            XCTAssertTrue(frame.caps.contains("width=(int)32") && frame.caps.contains("height=(int)24"), frame.caps)
            XCTAssertEqual(frame.bytes.count, 32 * 24 * 4)
            XCTAssertEqual(frame.pts, UInt64(index) * 1_000_000_000 / 30, "the new frame keeps the timestamp")
            for y in 0..<24 {
                for x in 0..<32 {
                    let hat = Hats.isHat(x: x * 2, y: y * 2, width: 64, height: 48, count: 2, heightPercent: 25)
                    let pixel = Array(frame.bytes[(y * 32 + x) * 4..<(y * 32 + x) * 4 + 4])
                    if pixel != (hat ? [230, 30, 200, 255] : [0, 0, 0, 255]) { return XCTFail("(\(x),\(y)): \(pixel)") }
                }
            }
        }
    }

    func testMessagesReachTheModuleAndComeBack() throws {
        let pipeline = try TestPipeline("audiotestsrc is-live=true ! opusenc ! rtpscripttransform name=t side=send worker=trailer ! fakesink name=out")
        pipeline.play()
        XCTAssertTrue(waitUntil(5) { pipeline.uint64("t", "total-frames") > 2 })
        postMessage(pipeline.element("t"), "trailer/stats")
        let reply = try XCTUnwrap(pipeline.waitFor(timeout: 5) { $0.kind == .element && $0.structure.hasPrefix("trailer/stats") }, "\(pipeline.messages)")
        XCTAssertTrue(reply.structure.contains("received=(int)0") && reply.structure.contains("dropped=(int)0"), reply.structure)
        let sent = reply.structure.split(separator: "sent=(int)").last.flatMap { Int($0.prefix { $0.isNumber }) } ?? 0
        XCTAssertGreaterThan(sent, 2, reply.structure)
        XCTAssertEqual(reply.source, "t")
    }

    func testEnqueueingAFrameTwiceIsRefusedNotDuplicated() throws {
        _ = try Self.loadedHere.get()
        let (frames, pipeline) = try blackFrames(worker: "c-twice", count: 3)
        XCTAssertEqual(frames.count, 0, "a failed call passes nothing on")
        XCTAssertTrue(pipeline.messages.contains { $0.kind == .warning && $0.text.contains("the frame was enqueued already; each frame goes on once") },
                      "\(pipeline.messages)")
    }

    func testSwiftAndCModulesChainWithBuiltInsInOneProcess() throws {
        _ = try Self.loadedHere.get()
        // hats (this process's runtime) ! swiftmirror (the second module's runtime) ! c-invert (C) ! mirror (built in)
        let (frames, _) = try blackFrames(worker: "hats count=3 height=20 ! swiftmirror ! c-invert ! mirror", count: 2)
        XCTAssertEqual(frames.count, 2)
        for frame in frames {
            for y in stride(from: 0, to: 48, by: 3) {
                for x in 0..<64 {
                    let hat = Hats.isHat(x: x, y: y, width: 64, height: 48, count: 3, heightPercent: 20)
                    let pixel = Array(frame.bytes[(y * 64 + x) * 4..<(y * 64 + x) * 4 + 4])
                    XCTAssertEqual(pixel, hat ? [25, 225, 55, 255] : [255, 255, 255, 255], "(\(x),\(y))")
                }
            }
        }
    }

    func testBadModulesAreRefusedWithTheirReason() throws {
        func refusal(_ path: String) -> String {
            do {
                let names = try InsertableStreams.loadModule(path: path)
                return "loaded: \(names)"
            } catch {
                return "\(error)"
            }
        }
        let text = refusal(try Self.module("bad/libtext.so"))
        XCTAssertTrue(text.contains("could not be opened"), text)
        let noEntry = refusal(try Self.module("bad/libno-entry.so"))
        XCTAssertTrue(noEntry.contains("is not a transform module: it exports no insertable_streams_module function"), noEntry)
        let badABI = refusal(try Self.module("bad/libbad-abi-module.so"))
        XCTAssertTrue(badABI.contains("was built for transform module ABI version 99; this plugin speaks version 1"), badABI)
        let missing = refusal("/nonexistent/libnothing.so")
        XCTAssertTrue(missing.contains("could not be opened") && missing.contains("No such file"), missing)
        // A module whose transforms are all malformed loads, registers nothing, and says why for each.
        XCTAssertEqual(refusal(try Self.module("bad/libbad-table-module.so")), "loaded: []")
        let problems = InsertableStreams.moduleProblems.joined(separator: "\n")
        for expected in ["transform 'c-nocreate' is not registered: create, destroy and transform must all be set",
                         "a transform named 'bad name!' is not registered",
                         "transform 'mirror' is not registered: the name is taken by the built-in transform mirror",
                         "transform 'c-badformat' is not registered: formats lists 'YUY9'"] {
            XCTAssertTrue(problems.contains(expected), "\(expected) not in\n\(problems)")
        }
        // The unknown-transform error lists the module transforms (and where) and what did not load.
        XCTAssertThrowsError(try TransformRegistry.makeTransformers("nohats", context: TransformContext(elementName: "p"))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("hats (module in process)"), text)
            XCTAssertTrue(text.contains("not loaded:") && text.contains("libbad-abi-module.so was built for transform module ABI version 99"), text)
        }
        // Refused parameters say what is wrong before the stream starts.
        let pipeline = try TestPipeline("videotestsrc num-buffers=1 ! trackprocessor worker=\"hats count=99\" pipe-to=x trackgenerator name=x ! fakesink")
        XCTAssertFalse(pipeline.runToEnd(timeout: 5))
        XCTAssertTrue(pipeline.messages.contains { $0.kind == .error && $0.text.contains("count=99 is invalid; count must be an integer from 1 to 16") },
                      "\(pipeline.messages)")
    }

    /// gst-launch-1.0 with the installed plugin (its own static Swift runtime) and, from
    /// GST_INSERTABLE_STREAMS_MODULE_PATH, the template module and the second module (each with
    /// its own) and a C module: one chain uses all of them.
    func testGstLaunchLoadsTwoSwiftModulesAndACModuleNextToThePlugin() throws {
        let modules = try Self.modules.get()
        let path = ["template", "second", "c/libinvert-module.so", "bad"].map { modules.appendingPathComponent($0).path }.joined(separator: ":")
        let plugin = PluginTests.self
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("modules-\(getpid()).raw")
        defer { try? FileManager.default.removeItem(at: output) }
        let launch = try plugin.run("/usr/bin/gst-launch-1.0", [
            "-q", "videotestsrc", "pattern=black", "num-buffers=2", "!", Self.rgbaCaps, "!",
            "trackprocessor", "worker=hats count=3 height=20 ! swiftmirror ! c-invert ! mirror", "pipe-to=launched", "sync=false", "max-buffer-size=8",
            "trackgenerator", "name=launched", "!", "filesink", "location=\(output.path)",
        ], environment: ["GST_INSERTABLE_STREAMS_MODULE_PATH": path])
        XCTAssertEqual(launch.status, 0, launch.output)
        let bytes = try [UInt8](Data(contentsOf: output))
        XCTAssertEqual(bytes.count, 2 * 64 * 48 * 4)
        for y in 0..<48 {
            for x in 0..<64 {
                let hat = Hats.isHat(x: x, y: y, width: 64, height: 48, count: 3, heightPercent: 20)
                let pixel = Array(bytes[(y * 64 + x) * 4..<(y * 64 + x) * 4 + 4])
                if pixel != (hat ? [25, 225, 55, 255] : [255, 255, 255, 255]) { return XCTFail("(\(x),\(y)): \(pixel)") }
            }
        }
        let encoded = try plugin.run("/usr/bin/gst-launch-1.0", [
            "-q", "audiotestsrc", "num-buffers=25", "!", "opusenc", "!", "rtpscripttransform", "side=send", "worker=trailer ! passthrough", "!",
            "rtpscripttransform", "side=receive", "worker=passthrough ! trailer", "!", "opusdec", "!", "fakesink",
        ], environment: ["GST_INSERTABLE_STREAMS_MODULE_PATH": path])
        XCTAssertEqual(encoded.status, 0, encoded.output)
        XCTAssertFalse(encoded.output.contains("WARNING"), encoded.output)

        let inspect = try plugin.run("/usr/bin/gst-inspect-1.0", ["trackprocessor"], environment: ["GST_INSERTABLE_STREAMS_MODULE_PATH": path])
        let listing = inspect.output.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "  ", with: "")
        XCTAssertTrue(listing.contains("hats (module \(modules.appendingPathComponent("template/libhats-module.so").path))"), inspect.output)
        XCTAssertTrue(listing.contains("c-invert (module \(modules.appendingPathComponent("c/libinvert-module.so").path))"), inspect.output)
        XCTAssertTrue(listing.contains("Modules not loaded:") && listing.contains("was built for transform module ABI version 99"), inspect.output)
        let encodedInspect = try plugin.run("/usr/bin/gst-inspect-1.0", ["rtpscripttransform"], environment: ["GST_INSERTABLE_STREAMS_MODULE_PATH": path])
        XCTAssertTrue(encodedInspect.output.replacingOccurrences(of: "\n", with: " ").contains("trailer (magic; module"), encodedInspect.output)
    }

    /// GStreamer's leaks tracer over module transforms: new frames, failures, refused enqueues,
    /// replaced encoded bytes and dropped encoded frames leave no buffer, caps or event alive.
    func testModuleTransformsLeakNothing() throws {
        let modules = try Self.modules.get()
        let path = ["template", "second", "c/libinvert-module.so", "bad/libtwice-module.so"].map { modules.appendingPathComponent($0).path }.joined(separator: ":")
        let pipelines: [[String]] = [
            ["videotestsrc", "num-buffers=20", "!", Self.rgbaCaps, "!", "tee", "name=t", "!", "queue", "!", "trackprocessor",
             "worker=hats ! halve ! swiftmirror ! fail-every n=4 ! c-invert", "pipe-to=g", "sync=false", "trackgenerator", "name=g", "!", "fakesink",
             "t.", "!", "queue", "!", "trackprocessor", "worker=c-twice", "sync=false", "max-buffer-size=2"],
            ["audiotestsrc", "num-buffers=20", "!", "opusenc", "!", "rtpscripttransform", "side=send", "worker=trailer", "!",
             "rtpscripttransform", "side=receive", "worker=trailer ! passthrough", "!", "opusdec", "!", "fakesink",
             "audiotestsrc", "num-buffers=10", "!", "opusenc", "!", "rtpscripttransform", "side=receive", "worker=trailer", "!", "fakesink"],
        ]
        for arguments in pipelines {
            let result = try PluginTests.run("/usr/bin/gst-launch-1.0", ["-q"] + arguments,
                                             environment: ["GST_INSERTABLE_STREAMS_MODULE_PATH": path, "GST_TRACERS": "leaks", "GST_DEBUG": "GST_TRACER:7"])
            XCTAssertTrue(result.output.contains("object-alive.class"), "the leaks tracer did not run: \(result.output.suffix(500))")
            let leaks = result.output.split(separator: "\n").filter { $0.contains("object-alive, type-name=") && !$0.contains("format string") }
            XCTAssertEqual(leaks.count, 0, "\(arguments):\n\(leaks.prefix(10).joined(separator: "\n"))")
        }
    }
}
