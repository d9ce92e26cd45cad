import CGStreamer
import CGStreamerCheck
import InsertableStreams
import Synchronization
import XCTest

/// The `app` transform and its `transform-frame` signal, driven as a C application would: a
/// handler with the signal's C signature, element by element in a GstHarness.
final class AppTransformTests: XCTestCase {
    override func setUp() { _ = TestEnvironment.ready }

    typealias Harness = HarnessTests.Harness
    private let opusCaps = HarnessTests.opusCaps
    private func opusFrame(_ index: Int) -> [UInt8] { HarnessTests.opusFrame(index) }

    /// A `transform-frame` handler: a Swift closure behind the signal's C signature.
    final class Handler: @unchecked Sendable {
        let body: (OpaquePointer) -> OpaquePointer?
        let calls = Atomic<Int>(0)
        init(_ body: @escaping (OpaquePointer) -> OpaquePointer?) { self.body = body }

        static let trampoline: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?, UnsafeMutableRawPointer?) -> OpaquePointer? = { _, sample, data in
            let handler = Unmanaged<Handler>.fromOpaque(data!).takeUnretainedValue()
            handler.calls.add(1, ordering: .relaxed)
            return handler.body(sample!)
        }

        /// Connects to `signal` (e.g. "transform-frame::a") of `element`; the element keeps the handler.
        func connect(to element: UnsafeMutablePointer<GstElement>, _ signal: String = "transform-frame") {
            let data = Unmanaged.passRetained(self).toOpaque()
            g_signal_connect_data(UnsafeMutableRawPointer(element), signal, unsafeBitCast(Self.trampoline, to: GCallback.self), data,
                                  { data, _ in Unmanaged<Handler>.fromOpaque(data!).release() }, GConnectFlags(rawValue: 0))
        }
    }

    /// The bytes of a sample's buffer.
    static func bytes(_ sample: OpaquePointer) -> [UInt8] {
        let buffer = gst_sample_get_buffer(sample)!
        var bytes = [UInt8](repeating: 0, count: Int(gst_buffer_get_size(buffer)))
        _ = bytes.withUnsafeMutableBytes { gst_buffer_extract(buffer, 0, $0.baseAddress, gsize($0.count)) }
        return bytes
    }

    static func info(_ sample: OpaquePointer) -> String {
        guard let info = gst_sample_get_info(sample), let text = gst_structure_to_string(info) else { return "" }
        defer { g_free(text) }
        return String(cString: text)
    }

    /// A new sample with `bytes` and `caps` (no info): what a handler returns for a rewritten frame.
    static func sample(_ bytes: [UInt8], caps: String?) -> OpaquePointer {
        let buffer = gst_buffer_new_allocate(nil, gsize(bytes.count), nil)!
        _ = bytes.withUnsafeBytes { gst_buffer_fill(buffer, 0, $0.baseAddress, gsize($0.count)) }
        let parsed = caps.flatMap { gst_caps_from_string($0) }
        defer {
            gst_buffer_unref(buffer)
            if let parsed { gst_caps_unref(parsed) }
        }
        return gst_sample_new(buffer, parsed, nil, nil)
    }

    /// Warnings the element posted (the harness gives it a bus).
    final class Warnings {
        let bus = gst_bus_new()!
        init(_ harness: Harness) { gst_element_set_bus(harness.pointer.pointee.element, bus) }
        deinit { gst_object_unref(UnsafeMutableRawPointer(bus)) }
        var texts: [String] {
            var result: [String] = []
            while let message = gst_bus_pop_filtered(bus, GST_MESSAGE_WARNING) {
                var error: UnsafeMutablePointer<GError>?
                gst_message_parse_warning(message, &error, nil)
                result.append(error.map { String(cString: $0.pointee.message) } ?? "")
                if let error { g_error_free(error) }
                gst_message_unref(message)
            }
            return result
        }
    }

    func testWithoutHandlerAppIsIdentity() throws {
        let harness = try Harness("rtpscripttransform name=t side=send worker=app", caps: opusCaps)
        for index in 0..<5 { XCTAssertEqual(harness.push(opusFrame(index), pts: UInt64(index) * 20_000_000), GST_FLOW_OK) }
        for index in 0..<5 { XCTAssertEqual(try XCTUnwrap(harness.pull()).bytes, opusFrame(index)) }
    }

    func testHandlerRewritesEncodedFramesInPlaceAndSeesTheirMetadata() throws {
        let harness = try Harness("rtpscripttransform name=t side=send worker=app", caps: opusCaps)
        let infos = Mutex<[String]>([])
        let writable = Atomic<Int>(0)
        Handler { sample in
            infos.withLock { $0.append(Self.info(sample)) }
            let buffer = gst_sample_get_buffer(sample)!
            if swift_buffer_is_writable(buffer) != 0 { writable.add(1, ordering: .relaxed) }
            var map = GstMapInfo()
            guard gst_buffer_map(buffer, &map, swift_map_readwrite()) != 0 else { return nil }
            for index in 1..<Int(map.size) { map.data[index] ^= 0x5a }
            gst_buffer_unmap(buffer, &map)
            return gst_sample_ref(sample)
        }.connect(to: harness.element("t"))
        for index in 0..<4 { XCTAssertEqual(harness.push(opusFrame(index), pts: UInt64(index) * 20_000_000), GST_FLOW_OK) }
        for index in 0..<4 {
            let output = try XCTUnwrap(harness.pull())
            let input = opusFrame(index)
            XCTAssertEqual(output.bytes, [input[0]] + input.dropFirst().map { $0 ^ 0x5a })
            XCTAssertEqual(output.pts, UInt64(index) * 20_000_000)
        }
        XCTAssertEqual(writable.load(ordering: .relaxed), 4, "the sample holds the only reference: the handler writes in place")
        let seen = infos.withLock { $0 }
        XCTAssertEqual(seen.count, 4)
        XCTAssertTrue(seen[2].hasPrefix("encoded-audio-frame, frame-id=(guint64)3, timestamp=(gint64)40000, mime-type=(string)audio/opus, side=(string)send"), seen[2])
    }

    /// A handler connected with G_CONNECT_SWAPPED: (data, sample, instance). It reverses the bytes.
    final class Swapped: @unchecked Sendable {
        let calls = Atomic<Int>(0)
        let element: UnsafeMutableRawPointer
        init(element: UnsafeMutableRawPointer) { self.element = element }

        static let trampoline: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?, UnsafeMutableRawPointer?) -> OpaquePointer? = { data, sample, instance in
            let swapped = Unmanaged<Swapped>.fromOpaque(data!).takeUnretainedValue()
            guard instance == swapped.element, let sample else { return nil }  // dropped: the test sees it
            swapped.calls.add(1, ordering: .relaxed)
            return AppTransformTests.sample(Array(AppTransformTests.bytes(sample).reversed()), caps: nil)
        }
    }

    /// The signal's own marshaller (not libffi's) serves C handlers: a swapped handler gets its
    /// data first and the element last; with two handlers (GLib's GValue path) the first
    /// connected answers and the second never runs. (PluginTests runs examples/c/transform-frame.c
    /// under the leaks tracer: the references the marshaller takes and gives balance.)
    func testCHandlersSwappedOrSeveralGetTheirArgumentsAndTheFirstAnswers() throws {
        let harness = try Harness("rtpscripttransform name=t side=send worker=app", caps: opusCaps)
        let element = harness.element("t")
        let swapped = Swapped(element: UnsafeMutableRawPointer(element))
        let id = g_signal_connect_data(UnsafeMutableRawPointer(element), "transform-frame", unsafeBitCast(Swapped.trampoline, to: GCallback.self),
                                       Unmanaged.passUnretained(swapped).toOpaque(), nil, G_CONNECT_SWAPPED)
        for index in 0..<3 { XCTAssertEqual(harness.push(opusFrame(index), pts: UInt64(index) * 20_000_000), GST_FLOW_OK) }
        for index in 0..<3 { XCTAssertEqual(try XCTUnwrap(harness.pull()).bytes, opusFrame(index).reversed()) }
        XCTAssertEqual(swapped.calls.load(ordering: .relaxed), 3)

        // A second handler after it: the first connected (the swapped one) answers alone.
        let lastFrame = opusFrame(8)
        let second = Handler { sample in Self.bytes(sample) == lastFrame ? gst_sample_ref(sample) : nil }
        second.connect(to: element)
        for index in 3..<6 { XCTAssertEqual(harness.push(opusFrame(index), pts: UInt64(index) * 20_000_000), GST_FLOW_OK) }
        for index in 3..<6 { XCTAssertEqual(try XCTUnwrap(harness.pull()).bytes, opusFrame(index).reversed()) }
        XCTAssertEqual(swapped.calls.load(ordering: .relaxed), 6)
        XCTAssertEqual(second.calls.load(ordering: .relaxed), 0, "only the first handler's answer counts (first wins)")
        g_signal_handler_disconnect(UnsafeMutableRawPointer(element), id)

        // The second alone now: it drops frames 6 and 7 and passes 8.
        for index in 6..<9 { XCTAssertEqual(harness.push(opusFrame(index), pts: UInt64(index) * 20_000_000), GST_FLOW_OK) }
        XCTAssertEqual(try XCTUnwrap(harness.pull()).bytes, lastFrame)
        XCTAssertEqual(second.calls.load(ordering: .relaxed), 3)
    }

    func testNullDropsAndNewSamplesTakeTheFramesTimestamps() throws {
        let harness = try Harness("rtpscripttransform name=t side=send worker=app", caps: opusCaps)
        let count = Atomic<Int>(0)
        Handler { sample in
            let index = count.add(1, ordering: .relaxed).newValue
            if index % 2 == 0 { return nil }  // drop frames 2, 4, ...
            return Self.sample(Array(Self.bytes(sample).reversed()), caps: nil)
        }.connect(to: harness.element("t"))
        for index in 0..<6 { XCTAssertEqual(harness.push(opusFrame(index), pts: UInt64(index) * 20_000_000), GST_FLOW_OK) }
        for index in [0, 2, 4] {
            let output = try XCTUnwrap(harness.pull())
            XCTAssertEqual(output.bytes, opusFrame(index).reversed())
            XCTAssertEqual(output.pts, UInt64(index) * 20_000_000, "a new buffer without PTS gets the frame's")
        }
        XCTAssertNil(gst_harness_try_pull(harness.pointer))
        XCTAssertEqual(harness.counter(harness.element("t"), "written-frames"), 3)
    }

    func testDetailsRouteFramesToEachAppStepInOrder() throws {
        let harness = try Harness("rtpscripttransform name=t side=send worker=\"app name=first ! app name=second\"", caps: opusCaps)
        let order = Mutex<[String]>([])
        for name in ["first", "second"] {
            Handler { sample in
                order.withLock { $0.append(name) }
                var bytes = Self.bytes(sample)
                bytes.append(name == "first" ? 0xaa : 0xbb)
                return Self.sample(bytes, caps: nil)
            }.connect(to: harness.element("t"), "transform-frame::\(name)")
        }
        XCTAssertEqual(harness.push(opusFrame(0), pts: 0), GST_FLOW_OK)
        let output = try XCTUnwrap(harness.pull())
        XCTAssertEqual(Array(output.bytes.suffix(2)), [0xaa, 0xbb])
        XCTAssertEqual(order.withLock { $0 }, ["first", "second"])
    }

    func testAnEarlierFrameReturnedAgainIsRefusedNotDuplicated() throws {
        let harness = try Harness("rtpscripttransform name=t side=send worker=app", caps: opusCaps)
        let warnings = Warnings(harness)
        struct Kept: @unchecked Sendable { var sample: OpaquePointer? }
        let kept = Mutex(Kept())
        Handler { sample in
            // Frame 1 passes and is kept; frame 2 is answered with frame 1 again; frame 3 passes.
            let previous = kept.withLock { slot in
                defer { slot.sample = slot.sample ?? gst_sample_ref(sample) }
                return slot.sample
            }
            return previous != nil && Self.info(sample).contains("frame-id=(guint64)2,") ? gst_sample_ref(previous!) : gst_sample_ref(sample)
        }.connect(to: harness.element("t"))
        for index in 0..<3 { XCTAssertEqual(harness.push(opusFrame(index), pts: UInt64(index) * 20_000_000), GST_FLOW_OK) }
        XCTAssertEqual(try XCTUnwrap(harness.pull()).pts, 0)
        XCTAssertEqual(try XCTUnwrap(harness.pull()).pts, 40_000_000, "frame 1 must not pass twice, frame 2 is lost")
        XCTAssertNil(gst_harness_try_pull(harness.pointer))
        if let last = kept.withLock({ $0.sample }) { gst_sample_unref(last) }
        XCTAssertEqual(harness.counter(harness.element("t"), "failed-frames"), 1)
        let texts = warnings.texts
        XCTAssertTrue(texts.contains { $0.contains("transform-frame returned frame 1 while handling frame 2") }, "\(texts)")
    }

    func testEncodedCapsCannotChange() throws {
        let harness = try Harness("rtpscripttransform name=t side=send worker=app", caps: opusCaps)
        let warnings = Warnings(harness)
        Handler { sample in
            Self.info(sample).contains("frame-id=(guint64)3,") ? gst_sample_ref(sample) : Self.sample(Self.bytes(sample), caps: "video/x-vp8")
        }.connect(to: harness.element("t"))
        for index in 0..<3 { XCTAssertEqual(harness.push(opusFrame(index), pts: UInt64(index) * 20_000_000), GST_FLOW_OK) }
        XCTAssertEqual(try XCTUnwrap(harness.pull()).pts, 40_000_000, "only the third frame, returned with its caps, passes")
        XCTAssertEqual(harness.counter(harness.element("t"), "failed-frames"), 2)
        let texts = warnings.texts
        XCTAssertTrue(texts.contains { $0.contains("returned caps video/x-vp8 for a stream of audio/x-opus") && $0.contains("cannot change the codec") }, "\(texts)")
    }

    func testRawHandlerMayChangeTheSizeButNotTheKind() throws {
        let caps = "video/x-raw, format=(string)RGBA, width=(int)4, height=(int)2, framerate=(fraction)30/1"
        let harness = try Harness("trackprocessor name=p worker=app pipe-to=app-sized sync=false max-buffer-size=8 trackgenerator name=app-sized", caps: caps)
        let warnings = Warnings(harness)
        let count = Atomic<Int>(0)
        Handler { sample in
            switch count.add(1, ordering: .relaxed).newValue {
            case 1: return Self.sample([UInt8](repeating: 7, count: 8 * 4 * 4), caps: "video/x-raw, format=(string)RGBA, width=(int)8, height=(int)4, framerate=(fraction)30/1")
            case 2: return Self.sample([1, 2, 3], caps: nil)  // too small for 4x2 RGBA
            case 3: return Self.sample([0, 0, 0, 0], caps: "audio/x-raw, format=(string)S16LE, layout=(string)interleaved, rate=(int)48000, channels=(int)1")
            default: return gst_sample_ref(sample)
            }
        }.connect(to: harness.element("p"))
        let pixels = [UInt8](repeating: 100, count: 32)
        for index in 0..<4 { XCTAssertEqual(harness.push(pixels, pts: UInt64(index) * 33_333_333), GST_FLOW_OK) }
        let output = try XCTUnwrap(harness.pull())
        XCTAssertEqual(output.bytes, [UInt8](repeating: 7, count: 128))
        XCTAssertEqual(output.pts, 0)
        // The generator's first caps event (before frame 1) gives the new size.
        var firstCaps = ""
        while firstCaps.isEmpty, let event = gst_harness_try_pull_event(harness.pointer) {
            if swift_event_type(event) == GST_EVENT_CAPS {
                var caps: UnsafeMutablePointer<GstCaps>?
                gst_event_parse_caps(event, &caps)
                if let caps, let text = gst_caps_to_string(caps) {
                    firstCaps = String(cString: text)
                    g_free(text)
                }
            }
            gst_event_unref(event)
        }
        XCTAssertTrue(firstCaps.contains("width=(int)8, height=(int)4"), firstCaps)
        let last = try XCTUnwrap(harness.pull(), "frames 2 and 3 are dropped, frame 4 passes as it came")
        XCTAssertEqual(last.bytes, pixels)
        XCTAssertEqual(last.pts, 3 * 33_333_333)
        // Warnings are rate-limited to one a second: the first one names the too-small buffer.
        let texts = warnings.texts
        XCTAssertTrue(texts.contains { $0.contains("returned a 3-byte buffer for a RGBA 4x2 frame, which needs 32 bytes") }, "\(texts)")
    }
}
