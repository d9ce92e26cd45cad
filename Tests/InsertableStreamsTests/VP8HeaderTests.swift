import EncodedStreams
import XCTest

/// The VP8 bool decoder and `VP8FrameHeader.dctPartitionCount`, on frames written by a test
/// bool encoder (every optional header field) and on real frames from vp8enc; and the clear
/// prefix `FrameLayout` derives from them.
final class VP8HeaderTests: XCTestCase {
    override func setUp() { _ = TestEnvironment.ready }

    // MARK: the bool decoder against an encoder

    func testBoolDecoderReadsWhatTheEncoderWrote() {
        var random = SplitMix64(seed: 1)
        for _ in 0..<200 {
            var encoder = VP8BoolEncoder()
            let symbols = (0..<Int.random(in: 0..<2000, using: &random)).map { _ in
                (probability: UInt8.random(in: 1...255, using: &random), bit: Bool.random(using: &random))
            }
            for symbol in symbols { encoder.write(symbol.bit, probability: symbol.probability) }
            let bytes = encoder.finish()
            bytes.withUnsafeBytes { buffer in
                var decoder = VP8BoolDecoder(buffer)
                let decoded = symbols.map { decoder.bool(probability: $0.probability) }
                XCTAssertEqual(decoded, symbols.map(\.bit))
                XCTAssertFalse(decoder.isExhausted)
            }
        }
    }

    /// Headers with every optional field (segmentation, quantizer / loop filter / probability
    /// updates, loop filter deltas) on and off: the count comes out whatever precedes it.
    func testPartitionCountAfterEveryOptionalHeaderField() {
        var random = SplitMix64(seed: 2)
        var seen = Set<Int>()
        for round in 0..<2000 {
            let key = round % 2 == 0
            let log2Count = Int.random(in: 0...3, using: &random)
            let partition = Self.firstPartition(key: key, log2Count: log2Count, random: &random)
            let frame = Self.frame(key: key, firstPartition: partition, partitions: 1 << log2Count, random: &random)
            frame.withUnsafeBytes { bytes in
                XCTAssertEqual(VP8FrameHeader.dctPartitionCount(bytes), 1 << log2Count)
                let table = 3 * ((1 << log2Count) - 1)
                XCTAssertEqual(FrameLayout.of(bytes, codec: .vp8, policy: .gstreamer).clearCount,
                               (key ? 10 : 3) + partition.count + table)
            }
            seen.insert(log2Count)
        }
        XCTAssertEqual(seen, [0, 1, 2, 3])
    }

    func testMalformedHeadersFallBackToTheLargestTable() {
        var random = SplitMix64(seed: 3)
        let partition = Self.firstPartition(key: true, log2Count: 2, random: &random)
        var frame = Self.frame(key: true, firstPartition: partition, partitions: 4, random: &random)
        frame.withUnsafeBytes { XCTAssertEqual(VP8FrameHeader.dctPartitionCount($0), 4) }
        frame[4] = 0  // no start code
        frame.withUnsafeBytes { bytes in
            XCTAssertNil(VP8FrameHeader.dctPartitionCount(bytes))
            XCTAssertEqual(FrameLayout.of(bytes, codec: .vp8, policy: .gstreamer).clearCount, 10 + partition.count + 21)
        }
        // A delta frame whose first partition is 1 byte: too short for the header fields.
        let tiny: [UInt8] = [0x21, 0x00, 0x00, 0xff, 1, 2, 3]
        tiny.withUnsafeBytes { bytes in
            XCTAssertNil(VP8FrameHeader.dctPartitionCount(bytes))
            XCTAssertEqual(FrameLayout.of(bytes, codec: .vp8, policy: .gstreamer).clearCount, 7)
        }
        for short in [[], [0x10], [0x10, 0x00]] as [[UInt8]] {
            short.withUnsafeBytes { XCTAssertNil(VP8FrameHeader.dctPartitionCount($0)) }
        }
    }

    // MARK: real frames

    /// vp8enc with 1, 2, 4 and 8 token partitions, on moving pictures and on static ones (tiny
    /// delta frames): the count matches, the table fits in every frame and its sizes leave a
    /// last partition, and the split point is the same once bytes are appended (as SFrame
    /// does), unlike the old +21 bytes.
    func testRealFramesFromVP8Enc() throws {
        // Constant bit rate: libvpx's real-time cyclic refresh turns segmentation on in every
        // frame (the other streams have loop filter deltas instead).
        let sources = [("smpte 160x120", "videotestsrc num-buffers=30 pattern=smpte ! video/x-raw,width=160,height=120,framerate=30/1", ""),
                       ("ball 352x288", "videotestsrc num-buffers=20 pattern=ball ! video/x-raw,width=352,height=288,framerate=30/1", ""),
                       ("ball 320x240 cbr", "videotestsrc num-buffers=30 pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1",
                        "end-usage=cbr target-bitrate=100000"),
                       ("black 32x32", "videotestsrc num-buffers=30 pattern=black ! video/x-raw,width=32,height=32,framerate=30/1", ""),
                       ("solid 16x16", "videotestsrc num-buffers=30 pattern=solid-color foreground-color=0xff336699 ! video/x-raw,width=16,height=16,framerate=30/1", "")]
        for (name, source, options) in sources {
            // The enum's nicks are the partition counts, and a launch line resolves nicks before
            // numbers: token-partitions=2 is two partitions (value 1), 3 would be eight (value 3).
            for partitions in [1, 2, 4, 8] {
                let label = "\(name), \(partitions) partitions"
                let frames = try Self.encode("\(source) ! vp8enc deadline=1 keyframe-max-dist=10 token-partitions=\(partitions) \(options)")
                XCTAssertGreaterThanOrEqual(frames.count, 20, label)
                XCTAssertGreaterThanOrEqual(frames.filter { !$0.isDelta }.count, 2, label)
                var totalBytes = 0, clearBytes = 0, oldClearBytes = 0, oldOverruns = 0, smallest = Int.max
                var counts = Set<Int>()
                for frame in frames {
                    frame.bytes.withUnsafeBytes { bytes in
                        XCTAssertEqual(VP8FrameHeader.isKeyFrame(bytes), !frame.isDelta, label)
                        let count = VP8FrameHeader.dctPartitionCount(bytes)
                        XCTAssertNotNil(count, label)
                        counts.insert(count ?? 0)
                        XCTAssertEqual(count, partitions, label)
                        let header = frame.isDelta ? 3 : 10
                        let firstPartition = VP8FrameHeader.firstPartitionSize(bytes)!
                        let clear = header + firstPartition + 3 * ((count ?? 1) - 1)
                        XCTAssertLessThanOrEqual(clear, bytes.count, "\(label): the table runs past a \(bytes.count)-byte frame")
                        XCTAssertEqual(FrameLayout.of(bytes, codec: .vp8, policy: .gstreamer).clearCount, clear, label)
                        // The table's sizes leave a non-empty last partition (what rtpvp8pay checks).
                        let sizes = (0..<max(0, (count ?? 1) - 1)).map { index in
                            let at = header + firstPartition + 3 * index
                            return Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16
                        }
                        XCTAssertLessThan(clear + sizes.reduce(0, +), bytes.count, "\(label): partition sizes \(sizes)")
                        // A size-changing transform appends bytes: the receiver must split where the sender did.
                        let extended = frame.bytes + [UInt8](repeating: 0xa5, count: 28)
                        XCTAssertEqual(extended.withUnsafeBytes { FrameLayout.of($0, codec: .vp8, policy: .gstreamer) }.clearCount,
                                       clear, label)
                        totalBytes += bytes.count
                        clearBytes += clear
                        oldClearBytes += min(bytes.count, header + firstPartition + 21)
                        if header + firstPartition + 21 > bytes.count { oldOverruns += 1 }
                        smallest = min(smallest, bytes.count)
                    }
                }
                print("VP8 \(label): \(counts.sorted()) partitions, \(frames.count) frames, smallest \(smallest) bytes, clear \(clearBytes) of \(totalBytes) bytes "
                      + "(was \(oldClearBytes)); \(oldOverruns) frames shorter than header + first partition + 21")
            }
        }
    }

    /// Every prefix of real frames: nil until the first partition is all there, then the full
    /// frame's count; the clear prefix never exceeds what there is. Corrupted frames: no crash.
    func testTruncatedAndCorruptedFramesAreSafe() throws {
        var frames: [CapturedBuffer] = []
        for (source, partitions) in [("pattern=smpte ! video/x-raw,width=160,height=120", 8),
                                     ("pattern=black ! video/x-raw,width=32,height=32", 4),
                                     ("pattern=ball ! video/x-raw,width=64,height=48", 1)] {
            frames += try Self.encode("videotestsrc num-buffers=12 \(source),framerate=30/1 ! vp8enc deadline=1 keyframe-max-dist=6 token-partitions=\(partitions)")
        }
        XCTAssertGreaterThan(frames.count, 30)
        for frame in frames {
            let full = frame.bytes.withUnsafeBytes { VP8FrameHeader.dctPartitionCount($0) }
            XCTAssertNotNil(full)
            let needed = (frame.isDelta ? 3 : 10) + frame.bytes.withUnsafeBytes { VP8FrameHeader.firstPartitionSize($0)! }
            for length in 0...frame.bytes.count {
                // A copy of exactly `length` bytes, so reading past it is caught in debug builds.
                let prefix = Array(frame.bytes.prefix(length))
                prefix.withUnsafeBytes { bytes in
                    let count = VP8FrameHeader.dctPartitionCount(bytes)
                    if length >= needed {
                        XCTAssertEqual(count, full, "prefix \(length) of \(frame.bytes.count)")
                    } else {
                        XCTAssertNil(count, "prefix \(length) of \(frame.bytes.count): the first partition is cut")
                    }
                    XCTAssertLessThanOrEqual(FrameLayout.of(bytes, codec: .vp8, policy: .gstreamer).clearCount, length)
                }
            }
        }
        var random = SplitMix64(seed: 4)
        for _ in 0..<20_000 {
            var bytes = frames.randomElement(using: &random)!.bytes
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                bytes[Int.random(in: 0..<min(bytes.count, 24), using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            if Bool.random(using: &random) { bytes = (0..<Int.random(in: 0..<64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) } }
            bytes.withUnsafeBytes { buffer in
                let count = VP8FrameHeader.dctPartitionCount(buffer)
                XCTAssertTrue(count == nil || [1, 2, 4, 8].contains(count!))
                XCTAssertLessThanOrEqual(FrameLayout.of(buffer, codec: .vp8, policy: .gstreamer).clearCount, buffer.count)
            }
        }
    }

    /// rtpvp8pay carries frames negated after the exact clear prefix, with 1 to 8 partitions and
    /// tiny static delta frames, and the receive side restores every byte.
    func testRtpVP8PayCarriesFramesNegatedAfterTheExactPrefix() throws {
        for (source, size, options) in [("smpte", "width=160,height=120", ""), ("black", "width=32,height=32", ""),
                                        ("ball", "width=320,height=240", "end-usage=cbr target-bitrate=100000")] {
            for partitions in [1, 2, 4, 8] {
                let label = "\(source) \(options), \(partitions) partitions"
                let pipeline = try TestPipeline("""
                    videotestsrc num-buffers=30 pattern=\(source) ! video/x-raw,\(size),framerate=30/1 \
                    ! vp8enc deadline=1 keyframe-max-dist=10 token-partitions=\(partitions) \(options) ! tee name=t
                    t. ! queue ! fakesink name=reference
                    t. ! queue ! rtpscripttransform worker=negate ! identity name=wire ! rtpvp8pay ! rtpvp8depay \
                    ! rtpscripttransform worker=negate ! fakesink name=out
                    """)
                let reference = pipeline.collect("reference"), wire = pipeline.collect("wire"), output = pipeline.collect("out")
                XCTAssertTrue(pipeline.runToEnd(timeout: 60), "\(label): \(pipeline.messages)")
                XCTAssertEqual(reference.count, 30, label)
                XCTAssertEqual(output.count, reference.count, label)
                XCTAssertTrue(zip(reference.buffers, output.buffers).allSatisfy { $0.bytes == $1.bytes }, "\(label): restored bytes differ")
                for (original, sent) in zip(reference.buffers, wire.buffers) {
                    XCTAssertEqual(original.bytes.withUnsafeBytes { VP8FrameHeader.dctPartitionCount($0) }, partitions, label)
                    let clear = original.bytes.withUnsafeBytes { FrameLayout.of($0, codec: .vp8, policy: .gstreamer).clearCount }
                    XCTAssertEqual(Array(sent.bytes.prefix(clear)), Array(original.bytes.prefix(clear)), label)
                    XCTAssertTrue(zip(sent.bytes.dropFirst(clear), original.bytes.dropFirst(clear)).allSatisfy { $0 == ~$1 }, label)
                    XCTAssertLessThan(clear, original.bytes.count, "\(label): something is negated")
                }
            }
        }
    }

    // MARK: helpers

    private static func encode(_ description: String) throws -> [CapturedBuffer] {
        let pipeline = try TestPipeline("\(description) ! fakesink name=out")
        let out = pipeline.collect("out")
        guard pipeline.runToEnd(timeout: 60) else { throw TestFailure("\(description): \(pipeline.messages)") }
        return out.buffers
    }

    /// A first partition: the frame header fields up to log2_nbr_of_dct_partitions with random
    /// values and random optional parts, then random bools standing for the rest of it.
    private static func firstPartition(key: Bool, log2Count: Int, random: inout SplitMix64) -> [UInt8] {
        var encoder = VP8BoolEncoder()
        func flag() -> Bool {
            let bit = Bool.random(using: &random)
            encoder.literal(bit ? 1 : 0, bits: 1)
            return bit
        }
        func value(_ bits: Int) { encoder.literal(Int.random(in: 0..<(1 << bits), using: &random), bits: bits) }
        if key {
            value(1)  // color_space
            value(1)  // clamping_type
        }
        if flag() {  // segmentation_enabled
            let updateMap = flag()
            if flag() {  // update_segment_feature_data
                value(1)
                for _ in 0..<4 where flag() { value(7); value(1) }
                for _ in 0..<4 where flag() { value(6); value(1) }
            }
            if updateMap {
                for _ in 0..<3 where flag() { value(8) }
            }
        }
        value(1); value(6); value(3)  // filter_type, loop_filter_level, sharpness_level
        if flag(), flag() {  // loop_filter_adj_enable, mode_ref_lf_delta_update
            for _ in 0..<8 where flag() { value(6); value(1) }
        }
        encoder.literal(log2Count, bits: 2)
        for _ in 0..<Int.random(in: 0..<200, using: &random) {
            encoder.write(Bool.random(using: &random), probability: UInt8.random(in: 1...255, using: &random))
        }
        return encoder.finish()
    }

    /// Frame tag, key frame start code and size, the first partition, the partition-size table
    /// and the partitions' bytes.
    private static func frame(key: Bool, firstPartition: [UInt8], partitions: Int, random: inout SplitMix64) -> [UInt8] {
        let tag = firstPartition.count << 5 | 0x10 | (key ? 0 : 1)  // show_frame, version 0
        var frame: [UInt8] = [UInt8(tag & 0xff), UInt8((tag >> 8) & 0xff), UInt8(tag >> 16)]
        if key { frame += [0x9d, 0x01, 0x2a, 64, 0, 48, 0] }
        frame += firstPartition
        let sizes = (0..<partitions).map { _ in Int.random(in: 1..<40, using: &random) }
        for size in sizes.dropLast() { frame += [UInt8(size & 0xff), UInt8(size >> 8 & 0xff), UInt8(size >> 16)] }
        for size in sizes { frame += (0..<size).map { _ in UInt8.random(in: 0...255, using: &random) } }
        return frame
    }
}

/// The boolean entropy encoder of RFC 6386 section 7.3, to write test input for the decoder.
struct VP8BoolEncoder {
    private(set) var output: [UInt8] = []
    private var range: UInt32 = 255
    /// Low end of the interval; bit 31 set before a shift is a carry into what is written.
    private var bottom: UInt32 = 0
    /// Shifts until the next byte is written (the first after 24, then every 8).
    private var bitCount = 24

    mutating func write(_ bit: Bool, probability: UInt8) {
        let split = 1 + (((range - 1) * UInt32(probability)) >> 8)
        if bit {
            bottom += split
            range -= split
        } else {
            range = split
        }
        while range < 128 {
            range <<= 1
            shift()
        }
    }

    mutating func literal(_ value: Int, bits: Int) {
        for bit in stride(from: bits - 1, through: 0, by: -1) { write((value >> bit) & 1 == 1, probability: 128) }
    }

    private mutating func shift() {
        if bottom & (1 << 31) != 0 {
            // Carry: ...xx ff ff becomes ...(xx+1) 00 00.
            var index = output.count - 1
            while output[index] == 0xff {
                output[index] = 0
                index -= 1
            }
            output[index] += 1
        }
        bottom <<= 1
        bitCount -= 1
        if bitCount == 0 {
            output.append(UInt8(bottom >> 24))
            bottom &= (1 << 24) - 1
            bitCount = 8
        }
    }

    /// Writes out the rest of `bottom` (a value inside the final interval) and returns the bytes.
    mutating func finish() -> [UInt8] {
        for _ in 0..<32 { shift() }
        return output
    }
}

/// A seeded generator, so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
