/// The codecs whose clear-byte rules differ.
public enum FrameCryptorCodec: String, Sendable, CaseIterable {
    case audio, vp8, vp9, av1, h264, h265
}

/// How a frame splits into clear bytes (authenticated as AES-GCM's additional data) and the
/// encrypted rest, by the rules of the deployed SDKs (see ../shared/notes/deployed-e2ee-formats.md).
public struct FrameCryptorLayout: Sendable, Equatable {
    /// Bytes `[0, clearCount)` stay as the encoder wrote them.
    public var clearCount: Int
    /// H.264/H.265 (LiveKit): everything after the clear bytes goes through RBSP emulation
    /// prevention so that no start code appears in it.
    public var escapes: Bool

    /// The layout of `frame` (on the send side as the encoder wrote it; on the receive side as
    /// received: the clear part is what both ends see).
    ///
    /// - LiveKit: audio 1 byte; VP8 10 (key frame) / 3 (delta); H.264/H.265 up to and including
    ///   the header byte of the first slice NAL unit plus one byte, the rest escaped; VP9 and AV1
    ///   nothing (as libwebrtc's FrameCryptorTransformer). An H.264/H.265 frame without a slice
    ///   (or with bytes before its first start code) gets 10/3 bytes and no escaping, as
    ///   client-sdk-js does (libwebrtc would use 0; encoders always put a slice in a frame).
    /// - Jitsi: by frame type only: key 10, delta 3, audio 1.
    public static func of(_ frame: UnsafeRawBufferPointer, codec: FrameCryptorCodec, isKeyFrame: Bool,
                          profile: FrameCryptorProfile) -> FrameCryptorLayout {
        func prefix(_ count: Int) -> FrameCryptorLayout { FrameCryptorLayout(clearCount: min(count, frame.count), escapes: false) }
        if profile == .jitsi {
            return prefix(codec == .audio ? 1 : isKeyFrame ? 10 : 3)
        }
        switch codec {
        case .audio: return prefix(1)
        case .vp8: return prefix(isKeyFrame ? 10 : 3)
        case .vp9, .av1: return prefix(0)
        case .h264, .h265:
            guard let header = NALUnits.firstSliceHeader(in: frame, codec: codec) else { return prefix(isKeyFrame ? 10 : 3) }
            return FrameCryptorLayout(clearCount: min(header + 2, frame.count), escapes: true)
        }
    }
}

/// Annex B NAL unit scanning, as far as the layout needs it.
enum NALUnits {
    /// The offset of the header byte of the first slice NAL unit: H.264 types 1 and 5, H.265
    /// VCL types 0-9 and 16-21.
    static func firstSliceHeader(in frame: UnsafeRawBufferPointer, codec: FrameCryptorCodec) -> Int? {
        // client-sdk-js gives up on frames that do not start with a start code.
        guard let first = nextUnit(in: frame, from: 0), first <= 4, frame[0] == 0, frame[1] == 0 else { return nil }
        var index = 0
        while let header = nextUnit(in: frame, from: index) {
            let byte = frame[header]
            let isSlice: Bool
            if codec == .h264 {
                let type = byte & 0x1F
                isSlice = type == 1 || type == 5
            } else {
                let type = (byte >> 1) & 0x3F
                isSlice = type <= 9 || (16...21).contains(type)
            }
            if isSlice { return header }
            index = header
        }
        return nil
    }

    /// The offset just after the next `00 00 01` start code at or after `start` (a 4-byte
    /// `00 00 00 01` ends the same way), or nil.
    static func nextUnit(in frame: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var index = start
        while index + 3 <= frame.count {
            if frame[index + 2] > 1 {
                index += 3
            } else if frame[index] == 0, frame[index + 1] == 0, frame[index + 2] == 1 {
                return index + 3 < frame.count ? index + 3 : nil
            } else {
                index += 1
            }
        }
        return nil
    }
}

/// RBSP emulation prevention as LiveKit applies it to what follows the clear bytes of
/// H.264/H.265 frames: a 0x03 is inserted after two zero bytes when the next byte is <= 0x03.
public enum RBSPEscaping {
    /// The size of `bytes` once escaped.
    public static func escapedCount(_ bytes: UnsafeRawBufferPointer) -> Int {
        var zeros = 0
        var extra = 0
        for byte in bytes {
            if zeros >= 2, byte <= 3 {
                extra += 1
                zeros = 0
            }
            zeros = byte == 0 ? zeros + 1 : 0
        }
        return bytes.count + extra
    }

    /// Writes `bytes` escaped into `output` (exactly `escapedCount(bytes)` bytes).
    public static func escape(_ bytes: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        var zeros = 0
        var position = 0
        for byte in bytes {
            if zeros >= 2, byte <= 3 {
                output[position] = 3
                position += 1
                zeros = 0
            }
            output[position] = byte
            position += 1
            zeros = byte == 0 ? zeros + 1 : 0
        }
    }

    /// Whether `bytes` hold an emulation-prevention sequence `00 00 03` (LiveKit's receivers
    /// unescape only then).
    public static func containsEscapes(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 3 else { return false }
        for index in 0..<(bytes.count - 2) where bytes[index + 2] == 3 && bytes[index] == 0 && bytes[index + 1] == 0 {
            return true
        }
        return false
    }

    /// `bytes` with every 0x03 that follows two zero bytes removed, or nil when the escaping is
    /// broken: a start code (`00 00 00`, `00 00 01`, `00 00 02`) that escaping would never leave.
    public static func unescape(_ bytes: UnsafeRawBufferPointer) -> [UInt8]? {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var zeros = 0
        for byte in bytes {
            if zeros >= 2 {
                if byte == 3 {
                    zeros = 0
                    continue
                }
                if byte < 3 { return nil }
            }
            output.append(byte)
            zeros = byte == 0 ? zeros + 1 : 0
        }
        return output
    }
}
