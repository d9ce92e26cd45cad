import CGStreamer
import MediaStreams

/// Encoded frames as `GstSample`s for code that is not Swift (the `transform-frame` signal of the
/// `app` transform). The info structure is `encoded-video-frame` or `encoded-audio-frame` with
/// `frame-id=(guint64)`, `timestamp=(gint64)` (µs), `mime-type=(string)`, `side=(string)send|receive`,
/// and when known `type=(string)key|delta|empty`, `width=(int)`, `height=(int)` (video),
/// `ssrc=(guint)`, `csrcs=(guint)< ... >`, `payload-type=(guint)`, `rtp-timestamp=(guint)`,
/// `sequence-number=(guint)` (audio, receive side), `rid=(string)`.
extension EncodedFrame {
    private enum Field {
        static let type = g_quark_from_string("type")
        static let mimeType = g_quark_from_string("mime-type")
        static let side = g_quark_from_string("side")
        static let width = g_quark_from_string("width")
        static let height = g_quark_from_string("height")
        static let ssrc = g_quark_from_string("ssrc")
        static let csrcs = g_quark_from_string("csrcs")
        static let payloadType = g_quark_from_string("payload-type")
        static let rtpTimestamp = g_quark_from_string("rtp-timestamp")
        static let sequenceNumber = g_quark_from_string("sequence-number")
        static let rid = g_quark_from_string("rid")
        static let videoName = g_quark_from_string("encoded-video-frame")
        static let audioName = g_quark_from_string("encoded-audio-frame")
    }

    /// Interned strings of the values every frame repeats, looked up once (g_intern_string takes
    /// a global lock).
    private enum Interned {
        /// An interned string: immutable and alive for the whole process.
        struct Text: @unchecked Sendable { let pointer: UnsafePointer<gchar> }
        static let mimeTypes: [EncodedCodec: Text] =
            Dictionary(uniqueKeysWithValues: EncodedCodec.allCases.map { ($0, Text(pointer: FrameSample.interned($0.mimeType))) })
        static let send = Text(pointer: FrameSample.interned(TransformSide.send.rawValue))
        static let receive = Text(pointer: FrameSample.interned(TransformSide.receive.rawValue))
        static let key = Text(pointer: FrameSample.interned(EncodedVideoFrameType.key.rawValue))
        static let delta = Text(pointer: FrameSample.interned(EncodedVideoFrameType.delta.rawValue))
        static let empty = Text(pointer: FrameSample.interned(EncodedVideoFrameType.empty.rawValue))
    }

    /// The number `frame-id` carries: the frame's place in its element's stream.
    package var sampleFrameID: UInt64 { origin.sequence }

    /// Moves the bytes into a new sample (transfer full) with `caps` and the info structure; the
    /// frame keeps its identity and gets bytes back with `restore(from:sent:)`. The sample holds
    /// the only reference to the buffer. Nil when the frame has no bytes any more.
    package func moveIntoSample(caps: UnsafeMutablePointer<GstCaps>?, side: TransformSide, rid: String?) -> OpaquePointer? {
        let video = self as? EncodedVideoFrame
        let info = gst_structure_new_id_empty(video != nil ? Field.videoName : Field.audioName)!
        swift_structure_take_uint64(info, FrameSample.Field.frameID, guint64(origin.sequence))
        if let timestamp { swift_structure_take_int64(info, FrameSample.Field.timestamp, gint64(timestamp)) }
        swift_structure_take_static_string(info, Field.mimeType, Interned.mimeTypes[codec]?.pointer ?? FrameSample.interned(mimeType))
        swift_structure_take_static_string(info, Field.side, (side == .send ? Interned.send : Interned.receive).pointer)
        if let video {
            let type = switch video.type {
            case .key: Interned.key
            case .delta: Interned.delta
            case .empty: Interned.empty
            }
            swift_structure_take_static_string(info, Field.type, type.pointer)
            let metadata = video.metadata()
            if let width = metadata.width, let height = metadata.height {
                swift_structure_take_int(info, Field.width, gint(width))
                swift_structure_take_int(info, Field.height, gint(height))
            }
        }
        if let ssrc = streamInfo.synchronizationSource { swift_structure_take_uint(info, Field.ssrc, guint(ssrc)) }
        if !streamInfo.contributingSources.isEmpty {
            let values = streamInfo.contributingSources.map { guint($0) }
            swift_structure_take_uint_array(info, Field.csrcs, values, guint(values.count))
        }
        if let payloadType = streamInfo.payloadType { swift_structure_take_uint(info, Field.payloadType, guint(payloadType)) }
        if let rtpTimestamp = streamInfo.rtpTimestamp { swift_structure_take_uint(info, Field.rtpTimestamp, guint(rtpTimestamp)) }
        if let sequence = streamInfo.sequenceNumber { swift_structure_take_uint(info, Field.sequenceNumber, guint(sequence)) }
        if let rid { swift_structure_take_static_string(info, Field.rid, FrameSample.interned(rid)) }
        guard let buffer = takeBuffer() else {
            gst_structure_free(info)
            return nil
        }
        defer { gst_buffer_unref(buffer) }  // the sample keeps the only reference
        return gst_sample_new(buffer, caps, nil, info)
    }

    /// Gives the frame the bytes of `sample`, what a handler returned for `sent` (which the
    /// caller still holds). The codec cannot change: caps must be absent or equal to the caps
    /// sent. A new buffer without PTS of its own takes the original's timestamps, flags (key or
    /// delta) and metas.
    package func restore(from sample: OpaquePointer, sent: OpaquePointer) throws {
        guard let buffer = gst_sample_get_buffer(sample) else {
            throw FrameSampleError("returned a sample without a buffer; return the sample it was given, a new sample with a buffer, or NULL to drop the frame")
        }
        let sentCaps = gst_sample_get_caps(sent)
        if let caps = gst_sample_get_caps(sample), caps != sentCaps, sentCaps.map({ gst_caps_is_equal(caps, $0) == 0 }) ?? true {
            throw FrameSampleError("returned caps \(FrameSample.describe(caps)) for a stream of \(FrameSample.describe(sentCaps)): an encoded transform cannot change the codec; return no caps or the caps it was given")
        }
        var owned = gst_buffer_ref(buffer)!
        if let original = gst_sample_get_buffer(sent), original != buffer, swift_buffer_pts(owned) == swift_clock_time_none() {
            owned = swift_buffer_make_writable(owned)
            let copied = GST_BUFFER_COPY_FLAGS.rawValue | GST_BUFFER_COPY_TIMESTAMPS.rawValue | GST_BUFFER_COPY_META.rawValue
            _ = gst_buffer_copy_into(owned, original, GstBufferCopyFlags(rawValue: copied), 0, gsize.max)
        }
        self.buffer.replace(with: owned)
    }
}
