import FrameCryptor

/// Which bytes of an encoded frame a byte-rewriting transform (negate, encryption) leaves as
/// the encoder wrote them, so that the rewritten frame still travels through RTP payloaders and
/// depayloaders that parse what they carry. Both ends must use the same policy.
///
/// What GStreamer 1.22's stock elements need is documented in README.md ("Payloaders and
/// rewritten frames"), found by test (PayloaderCompatibilityTests).
public enum ClearBytesPolicy: String, Sendable, CaseIterable {
    /// Keep clear what GStreamer 1.22's stock payloaders/depayloaders parse: VP8 the frame
    /// header, first partition and partition-size table (rtpvp8pay bool-decodes the first
    /// partition; the table has 3 bytes per DCT partition but the last, the count read from the
    /// first partition, or 21 bytes when it cannot be read); VP9 the uncompressed header up to
    /// the frame size (10 bytes key, 1 delta); H.264/H.265 every NAL unit before the first
    /// slice plus the slice's NAL header and first byte, the rest escaped so that no start code
    /// appears in it; Opus the TOC byte.
    case gstreamer
    /// The layout deployed browser E2EE uses (LiveKit, Jitsi): VP8 10 bytes (key) / 3 (delta),
    /// Opus 1, H.264/H.265 as `gstreamer`, VP9 and AV1 nothing. rtpvp8pay cannot carry VP8
    /// frames rewritten this way.
    case web
    /// Rewrite every byte (the MDN negate example). Only payloaders that do not parse their
    /// payload carry such frames: Opus, G.711, G.722 (and rtpgstpay for anything).
    case none
}

/// How one frame splits into a clear prefix and a rewritable body.
public struct FrameLayout: Sendable, Equatable {
    /// Bytes `[0, clearCount)` stay clear.
    public var clearCount: Int
    /// The rewritten body must not contain H.264/H.265 start codes: rewriters pass it through
    /// `H26xEscaping.escape` (send) / `unescape` (receive).
    public var escapesBody: Bool

    public init(clearCount: Int, escapesBody: Bool) {
        self.clearCount = clearCount
        self.escapesBody = escapesBody
    }

    /// Computes the layout of `frame` (as written by the encoder on the send side, or as
    /// received on the receive side: the clear part is what both ends can see).
    public static func of(_ frame: UnsafeRawBufferPointer, codec: EncodedCodec, policy: ClearBytesPolicy) -> FrameLayout {
        let count = frame.count
        func prefix(_ bytes: Int) -> FrameLayout { FrameLayout(clearCount: min(bytes, count), escapesBody: false) }
        if policy == .none { return prefix(0) }
        switch codec {
        case .vp8:
            let header = VP8FrameHeader.isKeyFrame(frame) ? 10 : 3
            guard policy == .gstreamer, let firstPartition = VP8FrameHeader.firstPartitionSize(frame) else { return prefix(header) }
            // The partition-size table follows the first partition: 3 bytes per DCT partition
            // but the last. Its length is coded inside the first partition, which both ends see
            // clear, so both find the same split. A frame whose count cannot be read keeps the
            // largest table (7 entries) clear, as far as the frame goes.
            guard let partitions = VP8FrameHeader.dctPartitionCount(frame) else { return prefix(header + firstPartition + 21) }
            return prefix(header + firstPartition + 3 * (partitions - 1))
        case .vp9:
            // rtpvp9pay parses the uncompressed header: byte 0 of every frame, and up to the
            // frame size (10 bytes) on key frames.
            guard policy == .gstreamer else { return prefix(0) }
            return prefix(VP9FrameHeader.isKeyFrame(frame) ? 10 : 1)
        case .av1:
            return prefix(0)
        case .h264, .h265:
            return H26xEscaping.layout(of: frame, codec: codec)
        case .opus:
            return prefix(1)
        case .pcmu, .pcma, .g722:
            return prefix(0)
        }
    }
}

/// Start-code emulation prevention for rewritten H.264/H.265 bodies, so that payloaders that
/// split access units on start codes (rtph264pay, rtph265pay) see the body as the rest of one
/// NAL unit. Escaping inserts 0x03 after two zero bytes when the next is <= 0x03 (as H.264's
/// own emulation prevention does), and appends a 0x80 trailer so that the body never ends in a
/// zero byte (payloaders strip trailing zeros of NAL units).
public enum H26xEscaping {
    public static let trailer: UInt8 = 0x80

    /// Clear: every NAL unit before the first VCL (slice) NAL unit, that unit's header and the
    /// first byte of its slice header (depayloaders read first_mb_in_slice /
    /// first_slice_segment_in_pic_flag there). No slice: all of it.
    static func layout(of frame: UnsafeRawBufferPointer, codec: EncodedCodec) -> FrameLayout {
        let headerSize = codec == .h265 ? 2 : 1
        var index = 0
        let count = frame.count
        while let start = nextStartCode(in: frame, from: index) {
            let nal = start.payload
            guard nal < count else { break }
            let isSlice: Bool
            if codec == .h265 {
                isSlice = (frame[nal] >> 1) & 0x3f < 32
            } else {
                let type = frame[nal] & 0x1f
                isSlice = type >= 1 && type <= 5
            }
            if isSlice {
                let clear = min(nal + headerSize + 1, count)
                return FrameLayout(clearCount: clear, escapesBody: clear < count)
            }
            index = nal + 1
        }
        return FrameLayout(clearCount: count, escapesBody: false)
    }

    /// The next 00 00 01 at or after `from`: where it starts and where the NAL unit begins.
    static func nextStartCode(in bytes: UnsafeRawBufferPointer, from: Int) -> (start: Int, payload: Int)? {
        var index = from
        while index + 2 < bytes.count {
            if bytes[index + 2] > 1 {
                index += 3
            } else if bytes[index] == 0, bytes[index + 1] == 0, bytes[index + 2] == 1 {
                return (index, index + 3)
            } else {
                index += 1
            }
        }
        return nil
    }

    /// Size of `escape(body)` without writing it.
    public static func escapedCount(_ body: UnsafeRawBufferPointer) -> Int {
        RBSPEscaping.escapedCount(body) + 1
    }

    /// Writes the escaped body and the trailer into `output` (exactly `escapedCount(body)` bytes).
    public static func escape(_ body: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        RBSPEscaping.escape(body, into: UnsafeMutableRawBufferPointer(rebasing: output[..<(output.count - 1)]))
        output[output.count - 1] = trailer
    }

    /// The body of an escaped body (trailer removed), or nil when it is malformed: no trailer,
    /// or an 0x03 escape missing where one is required.
    public static func unescape(_ escaped: UnsafeRawBufferPointer) -> [UInt8]? {
        guard let last = escaped.last, last == trailer else { return nil }
        return RBSPEscaping.unescape(UnsafeRawBufferPointer(rebasing: escaped.dropLast()))
    }
}
