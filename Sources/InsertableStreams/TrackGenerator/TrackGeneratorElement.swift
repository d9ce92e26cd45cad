import CGStreamer
import GStreamerBridge
import MediaStreams
import Synchronization

/// `trackgenerator`: VideoTrackGenerator / MediaStreamTrackGenerator as a live GStreamer source.
///
/// Frames written to it (by a `trackprocessor`'s worker through `pipe-to`, or by Swift code via
/// `TrackGenerator.writable`) leave as buffers on its src pad, from the base class's streaming
/// thread. Caps follow the frames. Closing the writer ends the track (EOS); aborting it posts
/// an error. Written frames wait in a one-frame queue: a writer blocks while it is full, which
/// is the back-pressure of a web WritableStream.
final class TrackGeneratorElement: BaseSrcSubclass, FrameWriter, FrameChannelConsumer, @unchecked Sendable {
    static let category = DebugCategory("trackgenerator", description: "Swift VideoTrackGenerator source")
    static let kindType = EnumType(name: "GstTrackGeneratorKind", values: [
        (0, "Video track (VideoFrame)", "video"),
        (1, "Audio track (AudioData)", "audio"),
    ])
    static let defaultDeadline: UInt64 = 20_000_000

    override class var typeName: String { "GstTrackGenerator" }
    override class var metadata: ElementMetadata {
        ElementMetadata(
            longName: "Track generator (VideoTrackGenerator)",
            classification: "Source/Video/Audio",
            description: "Live source whose buffers are the frames written to it by Swift code or by a trackprocessor's worker (pipe-to)",
            author: "gst-insertable-streams developers")
    }
    override class var padTemplates: [PadTemplateSpec] {
        [PadTemplateSpec(name: "src", direction: GST_PAD_SRC,
                         caps: VideoPixelFormat.capsString(VideoPixelFormat.allCases) + "; " + AudioSampleFormat.capsString)]
    }
    override class var properties: [PropertySpec] {
        [
            PropertySpec("kind", nick: "Kind",
                         blurb: "Kind of track generated: video accepts VideoFrames, audio accepts AudioData; writing the other kind is an error",
                         .enumeration(kindType, default: 0), flags: [.readWrite, .mutableReady]),
            PropertySpec("muted", nick: "Muted",
                         blurb: "While true, written frames are dropped (counted in discarded-frames) and the track shows no new frames",
                         .bool(default: false), flags: [.readWrite, .mutablePlaying]),
            PropertySpec("processing-deadline", nick: "Processing deadline",
                         blurb: "Time (ns) the writer's transform may take per frame; reported as latency on top of the upstream latency of the processors piping into this generator",
                         .uint64(min: 0, max: 10_000_000_000, default: defaultDeadline), flags: [.readWrite, .mutableReady]),
            PropertySpec("total-frames", nick: "Total frames",
                         blurb: "Frames written to this generator since it started", .uint64(min: 0, max: .max, default: 0),
                         flags: .readOnly),
            PropertySpec("discarded-frames", nick: "Discarded frames",
                         blurb: "Written frames dropped because the track was muted or not running", .uint64(min: 0, max: .max, default: 0),
                         flags: .readOnly),
        ]
    }

    private struct State {
        var kind: TrackKind = .video
        var muted = false
        var deadline = TrackGeneratorElement.defaultDeadline
        var total: UInt64 = 0
        var discarded: UInt64 = 0
        /// The channel named after this element, joined from READY to NULL.
        var channel: FrameChannel?
    }

    private let state = Mutex(State())
    /// Streaming thread only: what the current caps were made from.
    private var negotiatedVideo: [Int32]?
    private var negotiatedAudio: [Int32]?

    required init(element: UnsafeMutablePointer<GstElement>) {
        super.init(element: element)
        gst_base_src_set_live(baseSrcPointer, 1)
        gst_base_src_set_format(baseSrcPointer, GST_FORMAT_TIME)
        gst_base_src_set_do_timestamp(baseSrcPointer, 0)
        watchDownstreamEnd()
    }

    // MARK: properties

    override func setProperty(_ name: String, _ value: PropertyValue) {
        state.withLock { state in
            switch name {
            case "kind": state.kind = value.intValue == 1 ? .audio : .video
            case "muted": state.muted = value.boolValue ?? false
            case "processing-deadline": state.deadline = value.uint64Value ?? Self.defaultDeadline
            default: break
            }
        }
    }

    override func property(_ name: String) -> PropertyValue {
        state.withLock { state in
            switch name {
            case "kind": .enumeration(state.kind == .audio ? 1 : 0)
            case "muted": .bool(state.muted)
            case "processing-deadline": .uint64(state.deadline)
            case "total-frames": .uint64(state.total)
            case "discarded-frames": .uint64(state.discarded)
            default: .none
            }
        }
    }

    var kind: TrackKind { state.withLock { $0.kind } }

    // MARK: the channel

    /// The channel this generator consumes: the one named after it (joined at READY), or,
    /// before that, looked up by its current name (a Swift writer may write at any time).
    private var channel: FrameChannel { state.withLock { $0.channel } ?? FrameChannel.named(name) }

    override func changeState(_ transition: GstStateChange) -> GstStateChangeReturn {
        if transition == GST_STATE_CHANGE_NULL_TO_READY {
            let channel = FrameChannel.named(name)
            state.withLock { $0.channel = channel }
            channel.attachConsumer(self)
        }
        let result = super.changeState(transition)
        if transition == GST_STATE_CHANGE_READY_TO_NULL, let channel = state.withLock({ $0.channel }) {
            channel.detachConsumer(self)
            state.withLock { $0.channel = nil }
        }
        return result
    }

    /// When downstream stops taking buffers (EOS or an error: GstBaseSrc then pauses its task and
    /// pushes EOS), writers waiting for room give up instead of waiting for a `create` that will
    /// not come.
    private func watchDownstreamEnd() {
        let probe: GstPadProbeCallback = { pad, info, _ in
            guard let pad, let info, let event = gst_pad_probe_info_get_event(info),
                  swift_event_type(event) == GST_EVENT_EOS,
                  let parent = swift_object_parent(UnsafeMutableRawPointer(pad).assumingMemoryBound(to: GstObject.self)) else {
                return GST_PAD_PROBE_OK
            }
            if let generator = TypeRegistry.implementation(of: UnsafeMutableRawPointer(parent)) as? TrackGeneratorElement {
                generator.channel.queue.refuse(GST_FLOW_EOS.rawValue)
            }
            return GST_PAD_PROBE_OK
        }
        gst_pad_add_probe(sourcePad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, probe, nil, nil)
    }

    // MARK: FrameChannelConsumer (writer threads)

    func admit(_ frame: MediaFrame) throws -> Bool {
        let decision: Result<Bool, TrackGeneratorError> = state.withLock { state in
            guard frame.kind == state.kind else {
                return .failure(.wrongKind(generator: name, generatorKind: state.kind, frameKind: frame.kind))
            }
            state.total += 1
            if state.muted { state.discarded += 1 }
            return .success(!state.muted)
        }
        if case .failure(let error) = decision {
            postError(.stream(GST_STREAM_ERROR_WRONG_TYPE), error.description,
                      debug: "a frame of the wrong kind was written to the generator")
        }
        return try decision.get()
    }

    func discardedAdmittedFrame() { state.withLock { $0.discarded += 1 } }

    func producersChanged() {
        // Let the pipeline recompute its latency with the new contribution.
        gst_element_post_message(elementPointer, gst_message_new_latency(objectPointer))
    }

    // MARK: FrameWriter (the Swift writable; called from writer threads)

    func write(_ frame: MediaFrame, cancelled: () -> Bool) throws { try channel.write(frame, cancelled: cancelled) }
    func interruptWrites() { channel.interruptWrites() }
    func close() { channel.close() }
    func abort(reason: String) { channel.abort(reason: reason) }

    // MARK: GstBaseSrc

    override func start() -> Bool {
        state.withLock { state in
            state.total = 0
            state.discarded = 0
        }
        channel.queue.reset()
        negotiatedVideo = nil
        negotiatedAudio = nil
        Self.category.debug("started, kind=\(kind.rawValue)", object: self)
        return true
    }

    override func stop() -> Bool {
        channel.queue.shutDown()
        return true
    }

    override func unlock() -> Bool {
        channel.queue.setFlushing(true)
        return true
    }

    override func unlockStop() -> Bool {
        channel.queue.setFlushing(false)
        return true
    }

    /// Caps come from the frames (set in `create`), not from negotiation at start.
    override func negotiate() -> Bool { true }

    override func isSeekable() -> Bool { false }

    override func query(_ query: UnsafeMutablePointer<GstQuery>) -> Bool {
        guard swift_query_type(query) == GST_QUERY_LATENCY else { return super.query(query) }
        let deadline = state.withLock { $0.deadline }
        let upstream = channel.upstreamLatency()
        let minimum = upstream + deadline
        gst_query_set_latency(query, 1, GstClockTime(minimum), swift_clock_time_none())
        Self.category.debug("latency: live, min \(minimum) ns (upstream \(upstream) + deadline \(deadline))", object: self)
        return true
    }

    override func create(offset: UInt64, size: UInt32,
                         buffer: UnsafeMutablePointer<UnsafeMutablePointer<GstBuffer>?>) -> GstFlowReturn {
        switch channel.queue.next() {
        case .data(let frame):
            return output(frame, into: buffer)
        case .flushing, .shutdown:
            return swift_flow_flushing()
        case .endOfStream(error: nil):
            Self.category.info("writer closed: end of track", object: self)
            return GST_FLOW_EOS
        case .endOfStream(error: let reason?):
            postError(.stream(GST_STREAM_ERROR_FAILED), "The track's writer was aborted: \(reason)",
                      debug: "trackgenerator \(name): writable.abort() was called")
            return GST_FLOW_ERROR
        }
    }

    private func output(_ frame: MediaFrame,
                        into out: UnsafeMutablePointer<UnsafeMutablePointer<GstBuffer>?>) -> GstFlowReturn {
        guard renegotiateIfNeeded(for: frame) else {
            frame.close()
            postError(.core(GST_CORE_ERROR_NEGOTIATION), "Downstream does not accept the frames' format",
                      debug: "gst_base_src_set_caps failed for a \(describe(frame)) frame")
            return GST_FLOW_NOT_NEGOTIATED
        }
        let timing = frame.timing
        let taken: UnsafeMutablePointer<GstBuffer>? = switch frame {
        case .video(let video): video.takeBuffer()
        case .audio(let audio): audio.takeBuffer()
        }
        guard let taken, let buffer = swift_buffer_make_writable(taken) else { return GST_FLOW_ERROR }
        let pts = outputTimestamp(timing)
        swift_buffer_set_pts(buffer, pts.map { GstClockTime($0) } ?? swift_clock_time_none())
        swift_buffer_set_dts(buffer, swift_clock_time_none())
        swift_buffer_set_duration(buffer, timing.duration.map { GstClockTime($0) } ?? swift_clock_time_none())
        out.pointee = buffer
        return GST_FLOW_OK
    }

    /// The frame's time on this pipeline's timeline. A frame captured by a processor keeps its
    /// absolute clock time, so with a shared clock its running time is the same here as there
    /// (identical PTS when both elements are in one pipeline). Other frames are stamped with
    /// the current running time, as a live capture source would.
    private func outputTimestamp(_ timing: FrameTiming) -> UInt64? {
        guard let clock = gst_element_get_clock(elementPointer) else { return timing.pts }
        defer { gst_object_unref(clock) }
        let baseTime = UInt64(gst_element_get_base_time(elementPointer))
        if let clockTime = timing.clockTime, clockTime >= baseTime { return clockTime - baseTime }
        let now = UInt64(gst_clock_get_time(clock))
        return now >= baseTime ? now - baseTime : 0
    }

    private func renegotiateIfNeeded(for frame: MediaFrame) -> Bool {
        var caps: UnsafeMutablePointer<GstCaps>?
        switch frame {
        case .video(let video):
            var info = video.videoInfo
            let key = [Int32(video.format.gstFormat.rawValue), info.width, info.height, info.fps_n, info.fps_d, info.par_n, info.par_d,
                       Int32(info.colorimetry.matrix.rawValue), Int32(info.colorimetry.range.rawValue)]
            if negotiatedVideo == key { return true }
            caps = gst_video_info_to_caps(&info)
            negotiatedVideo = key
            negotiatedAudio = nil
        case .audio(let audio):
            var info = audio.audioInfo
            let key = [Int32(audio.format.gstFormat.rawValue), audio.format.isPlanar ? 1 : 0, info.rate, info.channels]
            if negotiatedAudio == key { return true }
            caps = gst_audio_info_to_caps(&info)
            negotiatedAudio = key
            negotiatedVideo = nil
        }
        guard let caps else { return false }
        defer { gst_caps_unref(caps) }
        Self.category.info("caps from frames: \(describeCaps(caps))", object: self)
        let accepted = gst_base_src_set_caps(baseSrcPointer, caps) != 0
        if !accepted { negotiatedVideo = nil; negotiatedAudio = nil }
        return accepted
    }

    private func describe(_ frame: MediaFrame) -> String {
        switch frame {
        case .video(let v): "\(v.format.rawValue) \(v.codedWidth)x\(v.codedHeight) VideoFrame"
        case .audio(let a): "\(a.format.rawValue) \(a.sampleRate) Hz \(a.numberOfChannels)-channel AudioData"
        }
    }
}

/// Errors a generator's writable throws to its writer.
enum TrackGeneratorError: Error, CustomStringConvertible {
    case wrongKind(generator: String, generatorKind: TrackKind, frameKind: TrackKind)

    var description: String {
        switch self {
        case .wrongKind(let generator, let generatorKind, let frameKind):
            let written = frameKind == .video ? "a VideoFrame (video)" : "an AudioData (audio)"
            return "trackgenerator '\(generator)' has kind=\(generatorKind.rawValue) and cannot accept \(written); set kind=\(frameKind.rawValue) on it or write \(generatorKind == .video ? "VideoFrames" : "AudioData")"
        }
    }
}
