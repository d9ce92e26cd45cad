/// One frame handed to a module transform: a view of the plugin's `ISMFrame`, valid only during
/// the call that received it. Raw frames expose writable planes; encoded frames writable bytes
/// and their RTP metadata.
public struct ModuleFrame {
    public enum Kind: Sendable, Equatable { case video, audio, encodedVideo, encodedAudio }
    public enum EncodedType: Sendable, Equatable { case key, delta, empty }
    public enum Side: Sendable, Equatable { case send, receive }

    /// The C frame, for code that speaks the ABI directly.
    public let pointer: UnsafeMutablePointer<ISMFrame>
    let controller: UnsafeMutablePointer<ISMController>

    init(_ pointer: UnsafeMutablePointer<ISMFrame>, controller: UnsafeMutablePointer<ISMController>) {
        self.pointer = pointer
        self.controller = controller
    }

    public var kind: Kind {
        switch pointer.pointee.kind {
        case UInt32(ISM_FRAME_VIDEO.rawValue): .video
        case UInt32(ISM_FRAME_AUDIO.rawValue): .audio
        case UInt32(ISM_FRAME_ENCODED_VIDEO.rawValue): .encodedVideo
        default: .encodedAudio
        }
    }

    /// The format as the ABI names it: a pixel format, a sample format or a mime type.
    public var formatName: String { pointer.pointee.format.map { String(cString: $0) } ?? "" }
    /// Raw video only.
    public var pixelFormat: PixelFormat? { kind == .video ? PixelFormat(rawValue: formatName) : nil }
    /// Raw audio only.
    public var sampleFormat: SampleFormat? { kind == .audio ? SampleFormat(rawValue: formatName) : nil }
    /// Encoded only, e.g. "video/VP8".
    public var mimeType: String? { kind == .encodedVideo || kind == .encodedAudio ? formatName : nil }

    /// Presentation timestamp in microseconds, when known.
    public var timestamp: Int64? { pointer.pointee.timestamp_us >= 0 ? pointer.pointee.timestamp_us : nil }
    public var duration: Int64? { pointer.pointee.duration_us >= 0 ? pointer.pointee.duration_us : nil }

    public var width: Int { Int(pointer.pointee.width) }
    public var height: Int { Int(pointer.pointee.height) }
    public var sampleRate: Int { Int(pointer.pointee.sample_rate) }
    public var numberOfChannels: Int { Int(pointer.pointee.number_of_channels) }
    public var numberOfFrames: Int { Int(pointer.pointee.number_of_frames) }

    // MARK: raw planes

    public var planeCount: Int { Int(pointer.pointee.n_planes) }

    /// Plane `index`, writable in place. Throws for an index the frame does not have (an error
    /// loses this frame only; a trap would take the application down).
    public func plane(_ index: Int) throws -> ModulePlane {
        guard index >= 0, index < planeCount else {
            throw ModuleError("plane \(index) of a \(formatName) frame with \(planeCount) plane\(planeCount == 1 ? "" : "s")")
        }
        let plane = pointer.pointee.planes[index]
        return ModulePlane(data: UnsafeMutableRawPointer(plane.data!), stride: Int(plane.stride),
                           rowBytes: Int(plane.row_bytes), rows: Int(plane.rows))
    }

    // MARK: encoded bytes and metadata

    /// The encoded bytes, writable in place.
    public var bytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: pointer.pointee.data, count: pointer.pointee.size)
    }

    /// Gives the frame `count` new bytes and returns them (uninitialised) to fill. The previous
    /// `bytes` stay readable until this call of the transform returns.
    public func replaceBytes(count: Int) throws -> UnsafeMutableRawBufferPointer {
        guard count >= 0 else { throw ModuleError("replaceBytes(count: \(count)): the count must not be negative") }
        guard let data = controller.pointee.host.pointee.replace_data(controller, pointer, count) else {
            throw ModuleError(ModuleController(controller).lastError)
        }
        return UnsafeMutableRawBufferPointer(start: data, count: count)
    }

    public var type: EncodedType? {
        switch pointer.pointee.type {
        case UInt32(ISM_ENCODED_KEY.rawValue): .key
        case UInt32(ISM_ENCODED_DELTA.rawValue): .delta
        case UInt32(ISM_ENCODED_EMPTY.rawValue): .empty
        default: nil
        }
    }

    public var side: Side { pointer.pointee.side == UInt32(ISM_SIDE_RECEIVE.rawValue) ? .receive : .send }
    public var synchronizationSource: UInt32? { pointer.pointee.ssrc >= 0 ? UInt32(truncatingIfNeeded: pointer.pointee.ssrc) : nil }
    public var payloadType: UInt8? { pointer.pointee.payload_type >= 0 ? UInt8(truncatingIfNeeded: pointer.pointee.payload_type) : nil }
    public var rtpTimestamp: UInt32? { pointer.pointee.rtp_timestamp >= 0 ? UInt32(truncatingIfNeeded: pointer.pointee.rtp_timestamp) : nil }
    public var sequenceNumber: UInt16? { pointer.pointee.sequence_number >= 0 ? UInt16(truncatingIfNeeded: pointer.pointee.sequence_number) : nil }
    public var contributingSources: [UInt32] {
        guard let csrcs = pointer.pointee.csrcs else { return [] }
        return Array(UnsafeBufferPointer(start: csrcs, count: Int(pointer.pointee.n_csrcs)))
    }
    public var rid: String? { pointer.pointee.rid.map { String(cString: $0) } }
}

/// One plane of a raw frame: `rows` rows of `rowBytes` meaningful bytes, `stride` apart.
public struct ModulePlane {
    public let data: UnsafeMutableRawPointer
    public let stride: Int
    public let rowBytes: Int
    public let rows: Int

    /// Row `index`'s first byte.
    @inlinable public func row(_ index: Int) -> UnsafeMutableRawPointer { data + index * stride }
}
