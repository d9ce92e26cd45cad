import EncodedStreams
import XCTest

/// The pieces of EncodedStreams that need no pipeline: escaping, layouts, messages.
final class EncodedStreamsTests: XCTestCase {
    override func setUp() { _ = TestEnvironment.ready }

    func testEscapingRoundTripsAndLeavesNoStartCode() {
        var generator = SystemRandomNumberGenerator()
        var bodies: [[UInt8]] = [[], [0], [0, 0], [0, 0, 0], [0, 0, 1], [0, 0, 3], [0, 0, 0, 0, 0, 0, 1, 0, 0], [5, 0, 0]]
        for _ in 0..<500 {
            // Zero-heavy random bodies: start codes and near-start-codes everywhere.
            bodies.append((0..<Int.random(in: 0..<300, using: &generator)).map { _ in
                Bool.random(using: &generator) ? 0 : UInt8.random(in: 0...4, using: &generator)
            })
        }
        for body in bodies {
            let escaped = body.withUnsafeBytes { source -> [UInt8] in
                var output = [UInt8](repeating: 0xee, count: H26xEscaping.escapedCount(source))
                output.withUnsafeMutableBytes { H26xEscaping.escape(source, into: $0) }
                return output
            }
            XCTAssertEqual(escaped.last, H26xEscaping.trailer)
            for index in 0..<max(0, escaped.count - 2) where escaped[index] == 0 && escaped[index + 1] == 0 {
                XCTAssertGreaterThanOrEqual(escaped[index + 2], 3, "start code or 00 00 0x inside \(escaped)")
            }
            XCTAssertEqual(escaped.withUnsafeBytes { H26xEscaping.unescape($0) }, body)
        }
        XCTAssertNil([1, 2, 3].withUnsafeBytes { H26xEscaping.unescape($0) }, "no trailer")
        XCTAssertNil([1, 0, 0, 1, 0x80].withUnsafeBytes { H26xEscaping.unescape($0) }, "a start code inside")
    }

    func testH264LayoutKeepsParameterSetsAndTheSliceHeaderStart() {
        let sps: [UInt8] = [0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e]
        let pps: [UInt8] = [0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80]
        let idr: [UInt8] = [0, 0, 1, 0x65, 0x88, 0x84, 0x21, 0x43]
        let frame = sps + pps + idr
        let layout = frame.withUnsafeBytes { FrameLayout.of($0, codec: .h264, policy: .gstreamer) }
        XCTAssertEqual(layout, FrameLayout(clearCount: sps.count + pps.count + 5, escapesBody: true))
        let parameterSetsOnly = (sps + pps).withUnsafeBytes { FrameLayout.of($0, codec: .h264, policy: .gstreamer) }
        XCTAssertEqual(parameterSetsOnly, FrameLayout(clearCount: 16, escapesBody: false))
        let h265: [UInt8] = [0, 0, 0, 1, 0x40, 0x01, 0x0c, 0, 0, 1, 0x26, 0x01, 0xaf, 0x12]  // VPS, IDR_W_RADL
        XCTAssertEqual(h265.withUnsafeBytes { FrameLayout.of($0, codec: .h265, policy: .gstreamer) },
                       FrameLayout(clearCount: 13, escapesBody: true))
        XCTAssertEqual(frame.withUnsafeBytes { FrameLayout.of($0, codec: .h264, policy: .none) }, FrameLayout(clearCount: 0, escapesBody: false))
    }

    func testVP8AndVP9Layouts() {
        // A key frame whose tag says the first partition is 100 bytes.
        var key = [UInt8](repeating: 7, count: 400)
        let tag = (100 << 5) | 0x10  // show_frame, version 0, key frame (bit 0 clear)
        key[0] = UInt8(tag & 0xff); key[1] = UInt8((tag >> 8) & 0xff); key[2] = UInt8(tag >> 16)
        key[3] = 0x9d; key[4] = 0x01; key[5] = 0x2a; key[6] = 160; key[7] = 0; key[8] = 120; key[9] = 0
        // The table is as long as the partition count the header (here 7s) codes; without a
        // count (no start code) the largest table stays clear. VP8HeaderTests has real frames.
        let partitions = key.withUnsafeBytes { VP8FrameHeader.dctPartitionCount($0) }
        XCTAssertNotNil(partitions)
        XCTAssertEqual(key.withUnsafeBytes { FrameLayout.of($0, codec: .vp8, policy: .gstreamer) }.clearCount,
                       10 + 100 + 3 * ((partitions ?? 1) - 1))
        var noStartCode = key
        noStartCode[5] = 0
        XCTAssertEqual(noStartCode.withUnsafeBytes { FrameLayout.of($0, codec: .vp8, policy: .gstreamer) }.clearCount, 10 + 100 + 21)
        XCTAssertEqual(key.withUnsafeBytes { FrameLayout.of($0, codec: .vp8, policy: .web) }.clearCount, 10)
        XCTAssertEqual(key.withUnsafeBytes { VP8FrameHeader.size(of: $0) }?.width, 160)
        var delta = key
        delta[0] |= 1
        XCTAssertEqual(delta.withUnsafeBytes { FrameLayout.of($0, codec: .vp8, policy: .web) }.clearCount, 3)
        XCTAssertTrue([0x82, 0x49, 0x83, 0x42].withUnsafeBytes { VP9FrameHeader.isKeyFrame($0) })   // profile 0 key frame
        XCTAssertFalse([0x86].withUnsafeBytes { VP9FrameHeader.isKeyFrame($0) })                    // inter frame
        XCTAssertFalse([0x88].withUnsafeBytes { VP9FrameHeader.isKeyFrame($0) })                    // show_existing_frame
    }

    func testMessagesParseAndSerialize() throws {
        let message = try TransformMessage(parsing: "keys, key-id=(uint)3, key=(buffer)00ff10, label=sender, ratio=0.5, on=true, big=(gint64)9000000000")
        XCTAssertEqual(message.name, "keys")
        XCTAssertEqual(message.integer("key-id"), 3)
        XCTAssertEqual(message.bytes("key"), [0x00, 0xff, 0x10])
        XCTAssertEqual(message.string("label"), "sender")
        XCTAssertEqual(message["ratio"], .double(0.5))
        XCTAssertEqual(message.bool("on"), true)
        XCTAssertEqual(message.integer("big"), 9_000_000_000)
        XCTAssertEqual(try TransformMessage(parsing: message.description), message)
        var built = TransformMessage("pong", ["hex": .string("0a0B")])
        XCTAssertEqual(built.bytes("hex"), [0x0a, 0x0b])
        built["hex"] = nil
        XCTAssertEqual(built.description, "pong;")
        // The string NULL is written quoted: unquoted, GStreamer reads no string (found by fuzzing).
        let null = try TransformMessage(parsing: "o, keys=\"NULL\", other=NULLS")
        XCTAssertEqual(null.description, "o, keys=(string)\"NULL\", other=(string)NULLS;")
        XCTAssertEqual(try TransformMessage(parsing: null.description), null)
        XCTAssertThrowsError(try TransformMessage(parsing: "not a structure ,,")) { error in
            XCTAssertTrue("\(error)".contains("is not a GstStructure; write it as `name, key=value, ...`"), "\(error)")
        }
    }
}
