import CGStreamer
import CGStreamerCheck
import InsertableStreams
import XCTest

/// The fast tier: one element (or the processor/generator pair) in a GstHarness, no pipeline.
/// Push buffers, pull buffers, compare bytes, timestamps and counters.
final class HarnessTests: XCTestCase {
    override func setUp() { _ = TestEnvironment.ready }

    final class Harness {
        let pointer: UnsafeMutablePointer<GstHarness>
        init(_ description: String, caps: String) throws {
            guard let harness = gst_harness_new_parse(description) else { throw TestFailure("cannot make a harness of \(description)") }
            pointer = harness
            gst_harness_set_src_caps_str(harness, caps)
        }
        deinit { gst_harness_teardown(pointer) }

        /// The element named `name` inside the harness's bin.
        func element(_ name: String) -> UnsafeMutablePointer<GstElement> {
            let bin = UnsafeMutableRawPointer(pointer.pointee.element).assumingMemoryBound(to: GstBin.self)
            let element = gst_bin_get_by_name(bin, name)!
            gst_object_unref(element)  // the bin keeps it alive
            return element
        }

        func push(_ bytes: [UInt8], pts: UInt64, duration: UInt64 = 20_000_000) -> GstFlowReturn {
            let buffer = gst_buffer_new_allocate(nil, gsize(bytes.count), nil)!
            _ = bytes.withUnsafeBytes { gst_buffer_fill(buffer, 0, $0.baseAddress, gsize($0.count)) }
            swift_buffer_set_pts(buffer, GstClockTime(pts))
            swift_buffer_set_duration(buffer, GstClockTime(duration))
            return gst_harness_push(pointer, buffer)
        }

        /// The next buffer's bytes and PTS (waits up to GstHarness's own time-out).
        func pull() -> (bytes: [UInt8], pts: UInt64)? {
            guard let buffer = gst_harness_pull(pointer) else { return nil }
            defer { gst_buffer_unref(buffer) }
            var bytes = [UInt8](repeating: 0, count: Int(gst_buffer_get_size(buffer)))
            _ = bytes.withUnsafeMutableBytes { gst_buffer_extract(buffer, 0, $0.baseAddress, gsize($0.count)) }
            return (bytes, UInt64(swift_buffer_pts(buffer)))
        }

        func counter(_ element: UnsafeMutablePointer<GstElement>, _ name: String) -> UInt64 {
            var value = GValue()
            g_value_init(&value, swift_type_uint64())
            defer { g_value_unset(&value) }
            g_object_get_property(UnsafeMutableRawPointer(element).assumingMemoryBound(to: GObject.self), name, &value)
            return UInt64(g_value_get_uint64(&value))
        }
    }

    private func opusFrame(_ index: Int) -> [UInt8] { Self.opusFrame(index) }
    static let opusCaps = "audio/x-opus, channel-mapping-family=(int)0, channels=(int)2, rate=(int)48000"

    static func opusFrame(_ index: Int) -> [UInt8] {
        [0xfc] + (0..<159).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ index) }
    }

    func testIdentityPassesEncodedFramesInOrderUnchanged() throws {
        let harness = try Harness("rtpscripttransform name=t side=send", caps: Self.opusCaps)
        for index in 0..<50 {
            XCTAssertEqual(harness.push(opusFrame(index), pts: UInt64(index) * 20_000_000), GST_FLOW_OK)
        }
        for index in 0..<50 {
            let output = try XCTUnwrap(harness.pull(), "frame \(index)")
            XCTAssertEqual(output.bytes, opusFrame(index))
            XCTAssertEqual(output.pts, UInt64(index) * 20_000_000)
        }
        XCTAssertEqual(harness.counter(harness.element("t"), "total-frames"), 50)
        XCTAssertEqual(harness.counter(harness.element("t"), "written-frames"), 50)
    }

    func testNegateRewritesEveryByteButTheOpusTOC() throws {
        let harness = try Harness("rtpscripttransform side=send worker=negate", caps: Self.opusCaps)
        let frame = opusFrame(3)
        XCTAssertEqual(harness.push(frame, pts: 0), GST_FLOW_OK)
        let output = try XCTUnwrap(harness.pull())
        XCTAssertEqual(output.bytes[0], frame[0], "the TOC byte stays clear")
        XCTAssertEqual(Array(output.bytes.dropFirst()), frame.dropFirst().map { ~$0 })
    }

    func testThrowingTransformLosesOnlyThatFrame() throws {
        let harness = try Harness("rtpscripttransform name=t side=send worker=fail-odd", caps: Self.opusCaps)
        for index in 0..<10 { XCTAssertEqual(harness.push(opusFrame(index), pts: UInt64(index) * 20_000_000), GST_FLOW_OK) }
        var seen: [UInt64] = []
        for _ in 0..<5 { seen.append(try XCTUnwrap(harness.pull()).pts / 20_000_000) }
        XCTAssertEqual(seen, [0, 2, 4, 6, 8])
        XCTAssertEqual(harness.counter(harness.element("t"), "failed-frames"), 5)
    }

    func testProcessorAndGeneratorAsOneElement() throws {
        let caps = "video/x-raw, format=(string)RGBA, width=(int)4, height=(int)2, framerate=(fraction)30/1"
        let harness = try Harness("trackprocessor name=p worker=invert pipe-to=harnessed sync=false max-buffer-size=8 trackgenerator name=harnessed",
                                  caps: caps)
        let pixels = (0..<32).map { UInt8($0 * 5) }
        for index in 0..<5 {
            XCTAssertEqual(harness.push(pixels, pts: UInt64(index) * 33_333_333), GST_FLOW_OK)
        }
        for index in 0..<5 {
            let output = try XCTUnwrap(harness.pull(), "frame \(index)")
            XCTAssertEqual(output.pts, UInt64(index) * 33_333_333, "the generator restores the processor's timestamps")
            for (offset, (out, original)) in zip(output.bytes, pixels).enumerated() {
                XCTAssertEqual(out, offset % 4 == 3 ? original : 255 - original, "byte \(offset)")
            }
        }
    }
}
