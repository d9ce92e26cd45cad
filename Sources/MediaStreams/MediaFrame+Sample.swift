import CGStreamer

/// Frames as `GstSample`s (buffer + caps + an info structure with the frame's metadata): how a
/// frame reaches code that is not Swift, through the `transform-frame` signal of the `app`
/// transform, and how what that code returns becomes a frame again.
///
/// Info structures (all times in microseconds, as in the Swift API):
/// - `video-frame, frame-id=(guint64), timestamp=(gint64), duration=(gint64), format=(string)I420,
///   coded-width=(int), coded-height=(int), display-width=(int), display-height=(int),
///   color-primaries=(string), color-transfer=(string), color-matrix=(string), full-range=(boolean)`
/// - `audio-data, frame-id=(guint64), timestamp=(gint64), duration=(gint64), format=(string)s16,
///   sample-rate=(int), number-of-frames=(int), number-of-channels=(int)`
/// Fields that are not known (a buffer without PTS, a colour space the caps do not give) are absent.
public enum FrameSample {
    /// Field names, as quarks (looked up once).
    package enum Field {
        package static let frameID = g_quark_from_string("frame-id")
        package static let timestamp = g_quark_from_string("timestamp")
        package static let duration = g_quark_from_string("duration")
        package static let format = g_quark_from_string("format")
        static let codedWidth = g_quark_from_string("coded-width")
        static let codedHeight = g_quark_from_string("coded-height")
        static let displayWidth = g_quark_from_string("display-width")
        static let displayHeight = g_quark_from_string("display-height")
        static let primaries = g_quark_from_string("color-primaries")
        static let transfer = g_quark_from_string("color-transfer")
        static let matrix = g_quark_from_string("color-matrix")
        static let fullRange = g_quark_from_string("full-range")
        static let sampleRate = g_quark_from_string("sample-rate")
        static let numberOfFrames = g_quark_from_string("number-of-frames")
        static let numberOfChannels = g_quark_from_string("number-of-channels")
    }

    /// A string that lives as long as the process, for `g_value_set_static_string`.
    package static func interned(_ text: String) -> UnsafePointer<gchar> { g_intern_string(text) }

    /// The `frame-id` of a returned sample's info structure, when it has one.
    package static func frameID(of sample: OpaquePointer) -> UInt64? {
        guard let info = gst_sample_get_info(sample) else { return nil }
        var value: guint64 = 0
        return gst_structure_get_uint64(info, "frame-id", &value) != 0 ? UInt64(value) : nil
    }

    /// Caps as text, for messages.
    package static func describe(_ caps: UnsafeMutablePointer<GstCaps>?) -> String {
        guard let caps, let text = gst_caps_to_string(caps) else { return "(no caps)" }
        defer { g_free(text) }
        return String(cString: text)
    }
}

/// What a raw frame handed to a sample looked like, to rebuild one from what comes back.
package struct RawFrameShape {
    package enum Media {
        case video(GstVideoInfo, VideoPixelFormat)
        case audio(GstAudioInfo)
    }
    package var media: Media
    package var timing: FrameTiming
    package var kind: TrackKind {
        if case .video = media { .video } else { .audio }
    }
}

/// The caps of the frames a transform hands out as samples, made once per format change.
package final class RawSampleCaps {
    private var caps: UnsafeMutablePointer<GstCaps>?
    private var media: RawFrameShape.Media?

    package init() {}
    deinit { if let caps { gst_caps_unref(caps) } }

    /// Caps for `media` (borrowed: valid until the next call).
    package func caps(for media: RawFrameShape.Media) -> UnsafeMutablePointer<GstCaps>? {
        if let caps, let cached = self.media, Self.same(cached, media) { return caps }
        if let caps { gst_caps_unref(caps) }
        switch media {
        case .video(var info, _): caps = gst_video_info_to_caps(&info)
        case .audio(var info): caps = gst_audio_info_to_caps(&info)
        }
        self.media = media
        return caps
    }

    private static func same(_ a: RawFrameShape.Media, _ b: RawFrameShape.Media) -> Bool {
        switch (a, b) {
        case (.video(var x, _), .video(var y, _)): gst_video_info_is_equal(&x, &y) != 0
        case (.audio(var x), .audio(var y)): gst_audio_info_is_equal(&x, &y) != 0
        default: false
        }
    }
}

extension MediaFrame {
    package var shape: RawFrameShape {
        switch self {
        case .video(let frame): RawFrameShape(media: .video(frame.videoInfo, frame.format), timing: frame.timing)
        case .audio(let data): RawFrameShape(media: .audio(data.audioInfo), timing: data.timing)
        }
    }

    /// Moves the frame's buffer into a new sample (transfer full) with `caps` and an info
    /// structure; the frame is closed. The sample holds the only reference to the buffer, so a
    /// handler that does not share it may write it in place. Nil when the frame was closed.
    package func moveIntoSample(frameID: UInt64, caps: UnsafeMutablePointer<GstCaps>?) -> OpaquePointer? {
        let info: UnsafeMutablePointer<GstStructure>
        let buffer: UnsafeMutablePointer<GstBuffer>?
        switch self {
        case .video(let frame):
            info = gst_structure_new_id_empty(g_quark_from_string("video-frame"))
            fillCommon(info, frameID: frameID, timing: frame.timing)
            swift_structure_take_static_string(info, FrameSample.Field.format, FrameSample.interned(frame.format.rawValue))
            swift_structure_take_int(info, FrameSample.Field.codedWidth, gint(frame.codedWidth))
            swift_structure_take_int(info, FrameSample.Field.codedHeight, gint(frame.codedHeight))
            swift_structure_take_int(info, FrameSample.Field.displayWidth, gint(frame.displayWidth))
            swift_structure_take_int(info, FrameSample.Field.displayHeight, gint(frame.displayHeight))
            let space = frame.colorSpace
            if let value = space.primaries { swift_structure_take_static_string(info, FrameSample.Field.primaries, FrameSample.interned(value)) }
            if let value = space.transfer { swift_structure_take_static_string(info, FrameSample.Field.transfer, FrameSample.interned(value)) }
            if let value = space.matrix { swift_structure_take_static_string(info, FrameSample.Field.matrix, FrameSample.interned(value)) }
            if let value = space.fullRange { swift_structure_take_boolean(info, FrameSample.Field.fullRange, value ? 1 : 0) }
            buffer = frame.takeBuffer()
        case .audio(let data):
            info = gst_structure_new_id_empty(g_quark_from_string("audio-data"))
            fillCommon(info, frameID: frameID, timing: data.timing)
            swift_structure_take_static_string(info, FrameSample.Field.format, FrameSample.interned(data.format.rawValue))
            swift_structure_take_int(info, FrameSample.Field.sampleRate, gint(data.sampleRate))
            swift_structure_take_int(info, FrameSample.Field.numberOfFrames, gint(data.numberOfFrames))
            swift_structure_take_int(info, FrameSample.Field.numberOfChannels, gint(data.numberOfChannels))
            buffer = data.takeBuffer()
        }
        guard let buffer else {
            gst_structure_free(info)
            return nil
        }
        defer { gst_buffer_unref(buffer) }  // the sample keeps its own reference: the only one
        return gst_sample_new(buffer, caps, nil, info)
    }

    private func fillCommon(_ info: UnsafeMutablePointer<GstStructure>, frameID: UInt64, timing: FrameTiming) {
        swift_structure_take_uint64(info, FrameSample.Field.frameID, guint64(frameID))
        if let pts = timing.pts { swift_structure_take_int64(info, FrameSample.Field.timestamp, gint64(pts / 1000)) }
        if let duration = timing.duration { swift_structure_take_int64(info, FrameSample.Field.duration, gint64(duration / 1000)) }
    }

    /// The frame a handler returned: `sample`'s buffer with the shape of its caps (nil caps, or
    /// caps equal to `sentCaps`: the shape of the frame handed out). The frame keeps the
    /// original's timing; a new buffer without PTS also gets the original's timestamps.
    package static func from(sample: OpaquePointer, original: RawFrameShape,
                             sentCaps: UnsafeMutablePointer<GstCaps>?) throws -> MediaFrame {
        guard let buffer = gst_sample_get_buffer(sample) else {
            throw FrameSampleError("returned a sample without a buffer; return the sample it was given, a new sample with a buffer, or NULL to drop the frame")
        }
        var media = original.media
        if let caps = gst_sample_get_caps(sample), caps != sentCaps, sentCaps.map({ gst_caps_is_equal(caps, $0) == 0 }) ?? true {
            media = try shape(of: caps, expected: original.kind)
        }
        switch media {
        case .video(let info, let format):
            let size = Int(gst_buffer_get_size(buffer))
            if gst_buffer_get_video_meta(buffer) == nil, size < Int(info.size) {
                throw FrameSampleError("returned a \(size)-byte buffer for a \(format.rawValue) \(info.width)x\(info.height) frame, which needs \(info.size) bytes (or a GstVideoMeta describing its planes)")
            }
        case .audio(let info):
            let size = Int(gst_buffer_get_size(buffer))
            if size == 0 || size % Int(info.bpf) != 0 {
                throw FrameSampleError("returned a \(size)-byte buffer for audio of \(info.bpf) bytes per frame: the size must be a positive multiple of it")
            }
        }
        var owned = gst_buffer_ref(buffer)!
        let none = swift_clock_time_none()
        if swift_buffer_pts(owned) == none, let pts = original.timing.pts {
            owned = swift_buffer_make_writable(owned)
            swift_buffer_set_pts(owned, GstClockTime(pts))
            if let duration = original.timing.duration { swift_buffer_set_duration(owned, GstClockTime(duration)) }
        }
        switch media {
        case .video(let info, let format):
            return .video(VideoFrame(buffer: owned, info: info, format: format, timing: original.timing))
        case .audio(let info):
            guard let data = AudioData(buffer: owned, info: info, timing: original.timing) else {
                throw FrameSampleError("returned audio the element cannot carry")
            }
            return .audio(data)
        }
    }

    private static func shape(of caps: UnsafeMutablePointer<GstCaps>, expected kind: TrackKind) throws -> RawFrameShape.Media {
        let accepted = "video/x-raw in \(VideoPixelFormat.allCases.map(\.capsName).joined(separator: ", ")), or audio/x-raw in S16LE or F32LE"
        guard gst_caps_is_fixed(caps) != 0, let structure = gst_caps_get_structure(caps, 0) else {
            throw FrameSampleError("returned caps \(FrameSample.describe(caps)) that are not fixed; a frame needs fixed \(accepted)")
        }
        if gst_structure_has_name(structure, "video/x-raw") != 0 {
            var info = GstVideoInfo()
            guard gst_video_info_from_caps(&info, caps) != 0, let format = VideoPixelFormat(gstFormat: swift_video_info_format(&info)) else {
                throw FrameSampleError("returned caps \(FrameSample.describe(caps)), which this element cannot carry; it carries \(accepted)")
            }
            guard kind == .video else { throw FrameSampleError("returned video caps \(FrameSample.describe(caps)) for an audio frame: a track keeps its kind") }
            return .video(info, format)
        }
        if gst_structure_has_name(structure, "audio/x-raw") != 0 {
            var info = GstAudioInfo()
            guard gst_audio_info_from_caps(&info, caps) != 0,
                  AudioSampleFormat(gstFormat: swift_audio_info_format(&info), planar: info.layout == GST_AUDIO_LAYOUT_NON_INTERLEAVED) != nil else {
                throw FrameSampleError("returned caps \(FrameSample.describe(caps)), which this element cannot carry; it carries \(accepted)")
            }
            guard kind == .audio else { throw FrameSampleError("returned audio caps \(FrameSample.describe(caps)) for a video frame: a track keeps its kind") }
            return .audio(info)
        }
        throw FrameSampleError("returned caps \(FrameSample.describe(caps)), which this element cannot carry; it carries \(accepted)")
    }
}

/// What was wrong with a sample a handler returned.
public struct FrameSampleError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
