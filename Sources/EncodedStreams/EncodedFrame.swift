import CGStreamer
import MediaStreams

/// The codecs `rtpscripttransform` carries, named by their GStreamer caps and their web
/// `mimeType`.
public enum EncodedCodec: String, Sendable, CaseIterable {
    case vp8, vp9, h264, h265, av1, opus, pcmu, pcma, g722

    /// `mimeType` of the frames' metadata, as WebRTC names the codec.
    public var mimeType: String {
        switch self {
        case .vp8: "video/VP8"
        case .vp9: "video/VP9"
        case .h264: "video/H264"
        case .h265: "video/H265"
        case .av1: "video/AV1"
        case .opus: "audio/opus"
        case .pcmu: "audio/PCMU"
        case .pcma: "audio/PCMA"
        case .g722: "audio/G722"
        }
    }

    public var kind: TrackKind {
        switch self {
        case .vp8, .vp9, .h264, .h265, .av1: .video
        case .opus, .pcmu, .pcma, .g722: .audio
        }
    }

    /// The caps this codec is accepted with: one buffer = one frame (access unit / temporal unit).
    public var caps: String {
        switch self {
        case .vp8: "video/x-vp8"
        case .vp9: "video/x-vp9"
        case .h264: "video/x-h264, stream-format=(string)byte-stream, alignment=(string)au"
        case .h265: "video/x-h265, stream-format=(string)byte-stream, alignment=(string)au"
        case .av1: "video/x-av1, stream-format=(string)obu-stream, alignment=(string)tu"
        case .opus: "audio/x-opus"
        case .pcmu: "audio/x-mulaw"
        case .pcma: "audio/x-alaw"
        case .g722: "audio/G722"
        }
    }

    /// The codec of a caps structure name (`video/x-vp8` ...), if carried.
    public init?(capsName: String) {
        switch capsName {
        case "video/x-vp8": self = .vp8
        case "video/x-vp9": self = .vp9
        case "video/x-h264": self = .h264
        case "video/x-h265": self = .h265
        case "video/x-av1": self = .av1
        case "audio/x-opus": self = .opus
        case "audio/x-mulaw": self = .pcmu
        case "audio/x-alaw": self = .pcma
        case "audio/G722": self = .g722
        default: return nil
        }
    }

    public static func capsString(_ codecs: some Sequence<EncodedCodec>) -> String {
        codecs.map(\.caps).joined(separator: "; ")
    }
}

/// `RTCEncodedVideoFrameType`.
public enum EncodedVideoFrameType: String, Sendable {
    case key, delta, empty
}

/// Which end of a call a transform runs at: between encoder and payloader (`send`, the web's
/// RTCRtpSender.transform) or between depayloader and decoder (`receive`, RTCRtpReceiver.transform).
public enum TransformSide: String, Sendable {
    case send, receive
}

/// What GStreamer knows about the RTP stream a frame travels in. Filled by the element; which
/// fields are known on which side is documented in README.md ("Frame metadata").
public struct RTPStreamInfo: Sendable, Equatable {
    public var synchronizationSource: UInt32?
    public var contributingSources: [UInt32] = []
    public var payloadType: UInt8?
    public var rtpTimestamp: UInt32?
    /// RTP sequence number of the (first) packet the frame came in; receive side only.
    public var sequenceNumber: UInt16?
    public init(synchronizationSource: UInt32? = nil, contributingSources: [UInt32] = [], payloadType: UInt8? = nil,
                rtpTimestamp: UInt32? = nil, sequenceNumber: UInt16? = nil) {
        self.synchronizationSource = synchronizationSource
        self.contributingSources = contributingSources
        self.payloadType = payloadType
        self.rtpTimestamp = rtpTimestamp
        self.sequenceNumber = sequenceNumber
    }
}

extension RTPStreamInfo {
    /// The copy constructors' metadata override: the RTP fields a page may change.
    func overriding(_ ssrc: UInt32?, _ csrcs: [UInt32], _ payloadType: UInt8?, _ rtpTimestamp: UInt32?) -> RTPStreamInfo {
        var info = self
        info.synchronizationSource = ssrc
        info.contributingSources = csrcs
        info.payloadType = payloadType
        info.rtpTimestamp = rtpTimestamp
        return info
    }
}

/// `RTCEncodedVideoFrameMetadata`. Nil: not known to GStreamer at this point of the pipeline.
public struct EncodedVideoFrameMetadata: Sendable, Equatable {
    public var synchronizationSource: UInt32?
    public var contributingSources: [UInt32]
    public var payloadType: UInt8?
    public var rtpTimestamp: UInt32?
    public var frameId: UInt64?
    public var dependencies: [UInt64]
    public var width: Int?
    public var height: Int?
    public var spatialIndex: Int?
    public var temporalIndex: Int?
    /// Presentation timestamp in microseconds (the buffer's PTS).
    public var timestamp: Int64?
    public var mimeType: String
}

/// `RTCEncodedAudioFrameMetadata`.
public struct EncodedAudioFrameMetadata: Sendable, Equatable {
    public var synchronizationSource: UInt32?
    public var contributingSources: [UInt32]
    public var payloadType: UInt8?
    public var rtpTimestamp: UInt32?
    /// Incoming frames only.
    public var sequenceNumber: UInt16?
    public var audioLevel: Double?
    public var timestamp: Int64?
    public var mimeType: String
}

/// Where an element's frames stand in its stream, so that the element can refuse frames that
/// are written out of order, twice, or by another element (as the spec does).
package struct FrameOrigin: Sendable, Equatable {
    package let stream: UInt64
    package let sequence: UInt64
    package init(stream: UInt64, sequence: UInt64) {
        self.stream = stream
        self.sequence = sequence
    }
}

/// An encoded frame: `RTCEncodedVideoFrame` / `RTCEncodedAudioFrame`'s common part.
///
/// The bytes are the GstBuffer's memory, not copied: `withUnsafeBytes` reads them,
/// `withUnsafeMutableBytes` rewrites them in place (copying only when the buffer is shared
/// with another branch), `replaceData` gives the frame new bytes of another size, and `data`
/// is the convenient copying accessor (the web's `data` ArrayBuffer). Once written to the
/// controller the frame's bytes belong to the pipeline: `data` is empty (a detached
/// ArrayBuffer) and the accessors throw.
open class EncodedFrame: @unchecked Sendable {
    package let buffer: OwnedBuffer
    package let origin: FrameOrigin
    public let codec: EncodedCodec
    package let streamInfo: RTPStreamInfo
    /// The buffer's PTS in nanoseconds, when it has one.
    public let pts: UInt64?

    package init(buffer: UnsafeMutablePointer<GstBuffer>, codec: EncodedCodec, origin: FrameOrigin, streamInfo: RTPStreamInfo) {
        self.buffer = OwnedBuffer(buffer)
        self.codec = codec
        self.origin = origin
        self.streamInfo = streamInfo
        let pts = swift_buffer_pts(buffer)
        self.pts = pts == swift_clock_time_none() ? nil : UInt64(pts)
    }

    /// Copy constructor: new bytes (a copy), same place in the stream.
    package init(copying other: EncodedFrame, streamInfo: RTPStreamInfo) throws {
        guard let source = other.buffer.pointer else { throw MediaFrameError.closed("\(type(of: other))") }
        buffer = OwnedBuffer(gst_buffer_copy_deep(source))
        codec = other.codec
        origin = other.origin
        self.streamInfo = streamInfo
        pts = other.pts
    }

    /// Presentation timestamp in microseconds (`timestamp`), or nil when GStreamer has none.
    public var timestamp: Int64? { pts.map { Int64($0 / 1000) } }

    /// `mimeType` of the metadata.
    public var mimeType: String { codec.mimeType }

    /// Number of bytes (0 once the frame was written or closed).
    public var byteCount: Int {
        guard let pointer = buffer.pointer else { return 0 }
        return Int(gst_buffer_get_size(pointer))
    }

    /// A copy of the bytes; assigning replaces them (the web's `frame.data = newBuffer`).
    public var data: [UInt8] {
        get { (try? withUnsafeBytes { Array($0.bindMemory(to: UInt8.self)) }) ?? [] }
        set { try? replaceData(count: newValue.count) { output in newValue.withUnsafeBytes { output.copyMemory(from: $0) } } }
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard let pointer = buffer.pointer else { throw MediaFrameError.closed("\(type(of: self))") }
        return try Self.map(pointer, GST_MAP_READ) { try body(UnsafeRawBufferPointer($0)) }
    }

    /// Rewrites the bytes in place (the buffer is made writable first: a copy only when shared).
    public func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) throws -> R {
        guard let pointer = buffer.makeWritable() else { throw MediaFrameError.closed("\(type(of: self))") }
        // The common case, one memory that is not shared: mapped directly, without
        // gst_buffer_map's reference, merge and writability bookkeeping (a few hundred
        // instructions per frame, which an Opus-size frame notices). When the memory is shared
        // or read-only its map fails, and gst_buffer_map copies it into the buffer as usual.
        if gst_buffer_n_memory(pointer) == 1, let memory = gst_buffer_peek_memory(pointer, 0) {
            var info = GstMapInfo()
            if gst_memory_map(memory, &info, swift_map_readwrite()) != 0 {
                defer { gst_memory_unmap(memory, &info) }
                return try body(UnsafeMutableRawBufferPointer(start: info.data, count: Int(info.size)))
            }
        }
        return try Self.map(pointer, swift_map_readwrite(), body)
    }

    /// Gives the frame `count` new bytes written by `fill`, keeping its timestamps, flags and
    /// metas: for transforms whose output size differs from their input (encryption, escaping).
    public func replaceData(count: Int, _ fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        guard let pointer = buffer.makeWritable() else { throw MediaFrameError.closed("\(type(of: self))") }
        guard let memory = gst_allocator_alloc(nil, gsize(count), nil) else {
            throw MediaFrameError.mapFailed("could not allocate \(count) bytes")
        }
        var info = GstMapInfo()
        guard gst_memory_map(memory, &info, GST_MAP_WRITE) != 0 else {
            gst_memory_unref(memory)
            throw MediaFrameError.mapFailed("could not map new memory")
        }
        do {
            try fill(UnsafeMutableRawBufferPointer(start: info.data, count: count))
        } catch {
            gst_memory_unmap(memory, &info)
            gst_memory_unref(memory)
            throw error
        }
        gst_memory_unmap(memory, &info)
        gst_buffer_replace_all_memory(pointer, memory)
    }

    /// Gives the frame `count` new bytes written by `fill` from its current bytes (`input`,
    /// readable until `fill` returns): encryption and decryption write their output once,
    /// straight into the frame's new memory. If `fill` throws, the frame keeps its bytes.
    public func rewrite(count: Int, _ fill: (_ input: UnsafeRawBufferPointer, _ output: UnsafeMutableRawBufferPointer) throws -> Void) throws {
        guard let pointer = buffer.pointer else { throw MediaFrameError.closed("\(type(of: self))") }
        // A reference of our own to the current memory keeps the input alive and mapped while
        // the new memory replaces it (making the buffer writable may drop the old buffer).
        guard gst_buffer_n_memory(pointer) > 0 else {
            return try replaceData(count: count) { output in try fill(UnsafeRawBufferPointer(start: nil, count: 0), output) }
        }
        guard let memory = gst_buffer_get_all_memory(pointer) else { throw MediaFrameError.mapFailed("could not merge the frame's memory") }
        defer { gst_memory_unref(memory) }
        var info = GstMapInfo()
        guard gst_memory_map(memory, &info, GST_MAP_READ) != 0 else { throw MediaFrameError.mapFailed("could not map the frame's memory") }
        defer { gst_memory_unmap(memory, &info) }
        try replaceData(count: count) { output in try fill(UnsafeRawBufferPointer(start: info.data, count: Int(info.size)), output) }
    }

    /// Releases the bytes now (the frame is dropped).
    public func close() { buffer.release() }

    /// Hands the buffer over (to the element pushing it), leaving the frame detached.
    package func takeBuffer() -> UnsafeMutablePointer<GstBuffer>? { buffer.take() }

    private static func map<R>(_ buffer: UnsafeMutablePointer<GstBuffer>, _ flags: GstMapFlags,
                               _ body: (UnsafeMutableRawBufferPointer) throws -> R) throws -> R {
        var info = GstMapInfo()
        guard gst_buffer_map(buffer, &info, flags) != 0 else { throw MediaFrameError.mapFailed("gst_buffer_map failed") }
        defer { gst_buffer_unmap(buffer, &info) }
        return try body(UnsafeMutableRawBufferPointer(start: info.data, count: Int(info.size)))
    }
}

/// `RTCEncodedVideoFrame`.
public final class EncodedVideoFrame: EncodedFrame, @unchecked Sendable {
    /// `type`: key frames are the buffers without GST_BUFFER_FLAG_DELTA_UNIT; empty ones have no bytes.
    public let type: EncodedVideoFrameType
    package let capsSize: (width: Int, height: Int)?
    private let frameId: UInt64

    package init(buffer: UnsafeMutablePointer<GstBuffer>, codec: EncodedCodec, origin: FrameOrigin,
                 streamInfo: RTPStreamInfo, capsSize: (width: Int, height: Int)?) {
        let flags = swift_buffer_flags(buffer).rawValue
        if gst_buffer_get_size(buffer) == 0 {
            type = .empty
        } else {
            type = flags & GST_BUFFER_FLAG_DELTA_UNIT.rawValue != 0 ? .delta : .key
        }
        self.capsSize = capsSize
        frameId = origin.sequence
        super.init(buffer: buffer, codec: codec, origin: origin, streamInfo: streamInfo)
    }

    /// `new RTCEncodedVideoFrame(frame, {metadata})`: a copy of the bytes, with `metadata`'s
    /// RTP fields (synchronizationSource, contributingSources, payloadType, rtpTimestamp)
    /// overriding the original's when given.
    public init(copying other: EncodedVideoFrame, metadata: EncodedVideoFrameMetadata? = nil) throws {
        type = other.type
        capsSize = other.capsSize
        frameId = other.frameId
        let info = metadata.map {
            other.streamInfo.overriding($0.synchronizationSource, $0.contributingSources, $0.payloadType, $0.rtpTimestamp)
        }
        try super.init(copying: other, streamInfo: info ?? other.streamInfo)
    }

    /// `getMetadata()`. Width and height come from the caps, or from a VP8 key frame's header.
    public func metadata() -> EncodedVideoFrameMetadata {
        let size = capsSize ?? (type == .key && codec == .vp8 ? (try? withUnsafeBytes(VP8FrameHeader.size(of:))) ?? nil : nil)
        return EncodedVideoFrameMetadata(
            synchronizationSource: streamInfo.synchronizationSource, contributingSources: streamInfo.contributingSources,
            payloadType: streamInfo.payloadType, rtpTimestamp: streamInfo.rtpTimestamp, frameId: frameId,
            dependencies: [], width: size?.width, height: size?.height, spatialIndex: nil, temporalIndex: nil,
            timestamp: timestamp, mimeType: mimeType)
    }
}

/// `RTCEncodedAudioFrame`.
public final class EncodedAudioFrame: EncodedFrame, @unchecked Sendable {
    /// `new RTCEncodedAudioFrame(frame, {metadata})`.
    public init(copying other: EncodedAudioFrame, metadata: EncodedAudioFrameMetadata? = nil) throws {
        let info = metadata.map {
            other.streamInfo.overriding($0.synchronizationSource, $0.contributingSources, $0.payloadType, $0.rtpTimestamp)
        }
        try super.init(copying: other, streamInfo: info ?? other.streamInfo)
    }

    package override init(buffer: UnsafeMutablePointer<GstBuffer>, codec: EncodedCodec, origin: FrameOrigin, streamInfo: RTPStreamInfo) {
        super.init(buffer: buffer, codec: codec, origin: origin, streamInfo: streamInfo)
    }

    /// `getMetadata()`.
    public func metadata() -> EncodedAudioFrameMetadata {
        EncodedAudioFrameMetadata(
            synchronizationSource: streamInfo.synchronizationSource, contributingSources: streamInfo.contributingSources,
            payloadType: streamInfo.payloadType, rtpTimestamp: streamInfo.rtpTimestamp,
            sequenceNumber: streamInfo.sequenceNumber, audioLevel: nil, timestamp: timestamp, mimeType: mimeType)
    }
}

/// The uncompressed data chunk at the start of a VP8 frame (RFC 6386, 9.1).
public enum VP8FrameHeader {
    /// Key frame or not (bit 0 of the frame tag is 0 for key frames).
    public static func isKeyFrame(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 3 && bytes[0] & 0x01 == 0
    }

    /// Size of the first partition, from the frame tag.
    public static func firstPartitionSize(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 3 else { return nil }
        return (Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16) >> 5
    }

    /// Width and height of a key frame (after the start code 9d 01 2a).
    public static func size(of bytes: UnsafeRawBufferPointer) -> (width: Int, height: Int)? {
        guard bytes.count >= 10, isKeyFrame(bytes), bytes[3] == 0x9d, bytes[4] == 0x01, bytes[5] == 0x2a else { return nil }
        let width = (Int(bytes[6]) | Int(bytes[7]) << 8) & 0x3fff
        let height = (Int(bytes[8]) | Int(bytes[9]) << 8) & 0x3fff
        return (width, height)
    }
}

/// The first byte of a VP9 frame's uncompressed header.
public enum VP9FrameHeader {
    /// frame_type == KEY_FRAME (and not a shown existing frame). Bits from the most significant:
    /// frame_marker(2) profile_low(1) profile_high(1) [reserved(1) for profile 3]
    /// show_existing_frame(1) frame_type(1).
    public static func isKeyFrame(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let first = bytes.first, first >> 6 == 2 else { return false }
        let profile = (first >> 5) & 1 | ((first >> 4) & 1) << 1
        let shift = profile == 3 ? 1 : 0
        let showExisting = (first >> (3 - shift)) & 1
        let frameType = (first >> (2 - shift)) & 1
        return showExisting == 0 && frameType == 0
    }
}
