/// The boolean entropy decoder of VP8 (RFC 6386, section 7): reads bools of a given
/// probability (out of 256) from one partition. Only as much as the frame header needs, so it
/// keeps the RFC's two-byte window rather than a faster wide one.
package struct VP8BoolDecoder {
    private let bytes: UnsafeRawBufferPointer
    private var position = 0
    /// The two-byte window; decisions compare its high byte with the split.
    private var value: UInt32 = 0
    private var range: UInt32 = 255
    /// Bits shifted out of `value` since the last byte was shifted in.
    private var bitCount = 0
    /// Set once the decoder needed a byte past the end of `bytes` (it reads zeros there, as
    /// libvpx does): what it decodes from then on is not backed by the data.
    package private(set) var isExhausted = false

    package init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        value = nextByte() << 8
        value |= nextByte()
    }

    private mutating func nextByte() -> UInt32 {
        guard position < bytes.count else {
            isExhausted = true
            return 0
        }
        defer { position += 1 }
        return UInt32(bytes[position])
    }

    /// One bool that is 0 with probability `probability / 256`.
    package mutating func bool(probability: UInt8) -> Bool {
        let split = 1 + (((range - 1) * UInt32(probability)) >> 8)
        let bigSplit = split << 8
        let bit: Bool
        if value >= bigSplit {
            bit = true
            range -= split
            value -= bigSplit
        } else {
            bit = false
            range = split
        }
        // Keep range in [128, 255]; every 8 shifts free a byte of the window for the next one.
        while range < 128 {
            value <<= 1
            range <<= 1
            bitCount += 1
            if bitCount == 8 {
                bitCount = 0
                value |= nextByte()
            }
        }
        return bit
    }

    /// L(n) of the RFC: an n-bit unsigned literal, most significant bit first, each bit coded
    /// with probability 128.
    package mutating func literal(_ bits: Int) -> Int {
        var result = 0
        for _ in 0..<bits {
            result = result << 1 | (bool(probability: 128) ? 1 : 0)
        }
        return result
    }

    /// A flag and, when it is set, `bits` more bits (the header's optional updates).
    mutating func skipFlagged(_ bits: Int) {
        if literal(1) == 1 { _ = literal(bits) }
    }
}

extension VP8FrameHeader {
    /// The number of DCT (token) partitions (1, 2, 4 or 8): `log2_nbr_of_dct_partitions` of the
    /// frame header, bool-coded inside the first partition (RFC 6386, 9.2-9.5 and 19.2). The
    /// partition-size table after the first partition has 3 bytes for each but the last.
    ///
    /// Nil when the frame is too short for its uncompressed chunk and first partition, a key
    /// frame lacks the start code, or the first partition ends before the field. Reads only the
    /// uncompressed chunk and the first partition, so a receiver that sees those bytes as the
    /// sender did gets the same answer.
    public static func dctPartitionCount(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard let firstPartitionSize = firstPartitionSize(bytes) else { return nil }
        let key = isKeyFrame(bytes)
        let start = key ? 10 : 3
        if key {
            guard bytes.count >= 10, bytes[3] == 0x9d, bytes[4] == 0x01, bytes[5] == 0x2a else { return nil }
        }
        // Both ends must decode the same bytes: only a first partition that is all there.
        guard firstPartitionSize <= bytes.count - start else { return nil }
        var decoder = VP8BoolDecoder(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + firstPartitionSize)]))
        if key {
            _ = decoder.literal(1)  // color_space
            _ = decoder.literal(1)  // clamping_type
        }
        if decoder.literal(1) == 1 {  // segmentation_enabled
            let updateMap = decoder.literal(1) == 1
            if decoder.literal(1) == 1 {  // update_segment_feature_data
                _ = decoder.literal(1)  // segment_feature_mode
                for _ in 0..<4 { decoder.skipFlagged(7 + 1) }  // quantizer value, sign
                for _ in 0..<4 { decoder.skipFlagged(6 + 1) }  // loop filter value, sign
            }
            if updateMap {
                for _ in 0..<3 { decoder.skipFlagged(8) }  // segment tree probabilities
            }
        }
        _ = decoder.literal(1)  // filter_type
        _ = decoder.literal(6)  // loop_filter_level
        _ = decoder.literal(3)  // sharpness_level
        if decoder.literal(1) == 1, decoder.literal(1) == 1 {  // loop_filter_adj_enable, mode_ref_lf_delta_update
            for _ in 0..<8 { decoder.skipFlagged(6 + 1) }  // 4 ref frame and 4 mode deltas: magnitude, sign
        }
        let log2Count = decoder.literal(2)
        // A field decoded from zeros past the partition would be a guess, not the frame's.
        guard !decoder.isExhausted else { return nil }
        return 1 << log2Count
    }
}
