extension FrameLayout {
    /// The clear bytes an encrypting transform authenticates (its AAD), computed from the clear
    /// prefix of a frame. Both ends must get the same bytes although payloaders change what
    /// they carry: for H.264/H.265 the depayloader writes 4-byte start codes, drops trailing
    /// zero bytes and may insert parameter sets (sprop-parameter-sets, config-interval), so the
    /// AAD is each NAL unit of the prefix without its start code and trailing zeros, length
    /// prefixed, leaving out the units payloaders add or drop (parameter sets, access unit
    /// delimiters, end of sequence/stream, filler). Those stay unauthenticated: altering them
    /// can break decoding (as dropping packets can) but reveals and forges no picture content.
    /// Other codecs: the prefix itself.
    public static func authenticatedClearBytes(_ clear: UnsafeRawBufferPointer, codec: EncodedCodec) -> [UInt8] {
        switch codec {
        case .h264, .h265: normalizedNALUnits(clear, codec: codec)
        default: Array(clear)
        }
    }

    private static func normalizedNALUnits(_ clear: UnsafeRawBufferPointer, codec: EncodedCodec) -> [UInt8] {
        var units: [Range<Int>] = []
        var unitStart = 0
        var searchFrom = 0
        while let code = H26xEscaping.nextStartCode(in: clear, from: searchFrom) {
            units.append(unitStart..<code.start)
            unitStart = code.payload
            searchFrom = code.payload
        }
        units.append(unitStart..<clear.count)

        var result: [UInt8] = []
        result.reserveCapacity(clear.count + 4 * units.count)
        for unit in units {
            var end = unit.upperBound
            while end > unit.lowerBound, clear[end - 1] == 0 { end -= 1 }
            guard end > unit.lowerBound, !isInsertedByPayloaders(clear[unit.lowerBound], codec: codec) else { continue }
            let count = UInt32(end - unit.lowerBound)
            result += [UInt8(count >> 24), UInt8(truncatingIfNeeded: count >> 16), UInt8(truncatingIfNeeded: count >> 8), UInt8(truncatingIfNeeded: count)]
            result += clear[unit.lowerBound..<end]
        }
        return result
    }

    /// NAL unit types that payloaders or parsers may add, drop or repeat.
    private static func isInsertedByPayloaders(_ header: UInt8, codec: EncodedCodec) -> Bool {
        if codec == .h265 {
            // VPS, SPS, PPS, AUD, end of sequence, end of bitstream, filler data.
            return (32...38).contains((header >> 1) & 0x3f)
        }
        // SPS, PPS, AUD, end of sequence, end of stream, filler, SPS extension, subset SPS.
        return [7, 8, 9, 10, 11, 12, 13, 15].contains(header & 0x1f)
    }
}
