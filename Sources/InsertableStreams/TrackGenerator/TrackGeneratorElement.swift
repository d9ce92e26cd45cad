import CGStreamer
import GStreamerBridge
import MediaStreams

/// `trackgenerator`: VideoTrackGenerator / MediaStreamTrackGenerator as a live GStreamer source.
///
/// Frames written to it (by a `trackprocessor`'s worker through `pipe-to`, or by Swift code via
/// `TrackGenerator.writable`) leave as buffers on its src pad, from the base class's streaming
/// thread. Caps follow the frames. Closing the writer ends the track (EOS); aborting it posts
/// an error. Written frames wait in a one-frame queue: a writer blocks while it is full, which
/// is the back-pressure of a web WritableStream.
final class TrackGeneratorElement: BaseSrcSubclass, FrameWriter, @unchecked Sendable {
    static let category = DebugCategory("trackgenerator", description: "Swift VideoTrackGenerator source")
    static let directory = ElementDirectory<TrackGeneratorElement>()
    static let kindType = EnumType(name: "GstTrackGeneratorKind", values: [
        (0, "Video track (VideoFrame)", "video"),
        (1, "Audio track (AudioData)", "audio"),
    ])
    static let defaultDeadline: UInt64 = 20_000_000
    static let queueCapacity = 1

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
        var started = false
        var flushing = false
        var closed = false
        var abortReason: String?
        var queue: [MediaFrame] = []
        var total: UInt64 = 0
        var discarded: UInt64 = 0
        var latencySources: [WeakLatencySource] = []
    }
    private struct WeakLatencySource { weak var source: TrackProcessorElement? }

    private let sync = LockedCondition()
    private var state = State()
    /// Streaming thread only: what the current caps were made from.
    private var negotiatedVideo: [Int32]?
    private var negotiatedAudio: [Int32]?

    required init(element: UnsafeMutablePointer<GstElement>) {
        super.init(element: element)
        gst_base_src_set_live(baseSrcPointer, 1)
        gst_base_src_set_format(baseSrcPointer, GST_FORMAT_TIME)
        gst_base_src_set_do_timestamp(baseSrcPointer, 0)
        Self.directory.add(self)
    }

    deinit { Self.directory.remove(self) }

    // MARK: properties

    override func setProperty(_ name: String, _ value: PropertyValue) {
        sync.withLock {
            switch name {
            case "kind": state.kind = value.intValue == 1 ? .audio : .video
            case "muted": state.muted = value.boolValue ?? false
            case "processing-deadline": state.deadline = value.uint64Value ?? Self.defaultDeadline
            default: break
            }
        }
    }

    override func property(_ name: String) -> PropertyValue {
        sync.withLock {
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

    var kind: TrackKind { sync.withLock { state.kind } }

    /// A processor piping into this generator: its upstream latency adds to ours.
    func addLatencySource(_ processor: TrackProcessorElement) {
        sync.withLock {
            state.latencySources.removeAll { $0.source == nil || $0.source === processor }
            state.latencySources.append(WeakLatencySource(source: processor))
        }
        // Let the pipeline recompute its latency with the new contribution.
        gst_element_post_message(elementPointer, gst_message_new_latency(objectPointer))
    }

    func removeLatencySource(_ processor: TrackProcessorElement) {
        sync.withLock { state.latencySources.removeAll { $0.source == nil || $0.source === processor } }
    }

    // MARK: FrameWriter (called from writer threads)

    func write(_ frame: MediaFrame, cancelled: () -> Bool) throws {
        var toDrop: MediaFrame?
        defer { toDrop?.close() }
        do {
            try enqueue(frame, cancelled: cancelled, toDrop: &toDrop)
        } catch let error as TrackGeneratorError {
            if case .wrongKind = error {
                postError(.stream(GST_STREAM_ERROR_WRONG_TYPE), error.description,
                          debug: "a frame of the wrong kind was written to the generator")
            }
            throw error
        }
    }

    private func enqueue(_ frame: MediaFrame, cancelled: () -> Bool, toDrop: inout MediaFrame?) throws {
        try sync.withLock {
            guard frame.kind == state.kind else {
                throw TrackGeneratorError.wrongKind(generator: name, generatorKind: state.kind, frameKind: frame.kind)
            }
            guard !state.closed, state.abortReason == nil else {
                throw TrackGeneratorError.ended(generator: name)
            }
            state.total += 1
            guard !state.muted, state.started else {
                state.discarded += 1
                toDrop = frame
                return
            }
            while state.queue.count >= Self.queueCapacity, state.started, !state.closed, !state.flushing {
                // Downstream ended or failed (e.g. `pngenc snapshot=true` returned EOS): the
                // streaming task has stopped taking frames, so waiting would never end.
                if cancelled() || gst_pad_get_last_flow_return(sourcePad).rawValue < GST_FLOW_OK.rawValue {
                    state.discarded += 1
                    toDrop = frame
                    return
                }
                sync.wait(microseconds: 10_000)
            }
            guard state.started, !state.closed, !state.flushing else {
                state.discarded += 1
                toDrop = frame
                return
            }
            state.queue.append(frame)
            sync.broadcast()
        }
    }

    func close() {
        sync.withLock {
            state.closed = true
            sync.broadcast()
        }
    }

    func abort(reason: String) {
        sync.withLock {
            state.abortReason = reason
            sync.broadcast()
        }
    }

    // MARK: GstBaseSrc

    override func start() -> Bool {
        let dropped: [MediaFrame] = sync.withLock {
            state.started = true
            state.flushing = false
            state.closed = false
            state.abortReason = nil
            state.total = 0
            state.discarded = 0
            defer { state.queue.removeAll() }
            return state.queue
        }
        dropped.forEach { $0.close() }
        negotiatedVideo = nil
        negotiatedAudio = nil
        Self.category.debug("started, kind=\(kind.rawValue)", object: self)
        return true
    }

    override func stop() -> Bool {
        let dropped: [MediaFrame] = sync.withLock {
            state.started = false
            sync.broadcast()
            defer { state.queue.removeAll() }
            return state.queue
        }
        dropped.forEach { $0.close() }
        return true
    }

    override func unlock() -> Bool {
        sync.withLock {
            state.flushing = true
            sync.broadcast()
        }
        return true
    }

    override func unlockStop() -> Bool {
        sync.withLock { state.flushing = false }
        return true
    }

    /// Caps come from the frames (set in `create`), not from negotiation at start.
    override func negotiate() -> Bool { true }

    override func isSeekable() -> Bool { false }

    override func query(_ query: UnsafeMutablePointer<GstQuery>) -> Bool {
        guard swift_query_type(query) == GST_QUERY_LATENCY else { return super.query(query) }
        let (deadline, sources) = sync.withLock { (state.deadline, state.latencySources.compactMap(\.source)) }
        let upstream = sources.compactMap { $0.upstreamLatency() }.max() ?? 0
        let minimum = upstream + deadline
        gst_query_set_latency(query, 1, GstClockTime(minimum), swift_clock_time_none())
        Self.category.debug("latency: live, min \(minimum) ns (upstream \(upstream) + deadline \(deadline))", object: self)
        return true
    }

    override func create(offset: UInt64, size: UInt32,
                         buffer: UnsafeMutablePointer<UnsafeMutablePointer<GstBuffer>?>) -> GstFlowReturn {
        enum Outcome { case frame(MediaFrame), flushing, endOfStream, aborted(String) }
        let outcome: Outcome = sync.withLock {
            while true {
                if state.flushing || !state.started { return .flushing }
                if !state.queue.isEmpty {
                    sync.broadcast()
                    return .frame(state.queue.removeFirst())
                }
                if let reason = state.abortReason { return .aborted(reason) }
                if state.closed { return .endOfStream }
                sync.wait()
            }
        }
        switch outcome {
        case .flushing:
            return swift_flow_flushing()
        case .endOfStream:
            Self.category.info("writer closed: end of track", object: self)
            return GST_FLOW_EOS
        case .aborted(let reason):
            postError(.stream(GST_STREAM_ERROR_FAILED), "The track's writer was aborted: \(reason)",
                      debug: "trackgenerator \(name): writable.abort() was called")
            return GST_FLOW_ERROR
        case .frame(let frame):
            return output(frame, into: buffer)
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
    case ended(generator: String)

    var description: String {
        switch self {
        case .wrongKind(let generator, let generatorKind, let frameKind):
            let written = frameKind == .video ? "a VideoFrame (video)" : "an AudioData (audio)"
            return "trackgenerator '\(generator)' has kind=\(generatorKind.rawValue) and cannot accept \(written); set kind=\(frameKind.rawValue) on it or write \(generatorKind == .video ? "VideoFrames" : "AudioData")"
        case .ended(let generator):
            return "trackgenerator '\(generator)': the track has ended (its writer was closed or aborted)"
        }
    }
}
