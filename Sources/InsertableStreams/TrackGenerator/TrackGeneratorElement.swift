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
final class TrackGeneratorElement: BaseSrcSubclass, HasSettings, FrameWriter, FrameChannelConsumer, @unchecked Sendable {
    static let category = DebugCategory("trackgenerator", description: "Swift VideoTrackGenerator source")

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
    struct Settings: ElementSettings {
        var kind: TrackKind = .video
        var muted = false
        var deadline: UInt64 = 20_000_000
    }
    override class var properties: [PropertyDeclaration] {
        [ElementProperty<TrackGeneratorElement>]([
            .enumeration("kind", nick: "Kind",
                         blurb: "Kind of track generated: video accepts VideoFrames, audio accepts AudioData; writing the other kind is an error",
                         \.kind),
            .bool("muted", nick: "Muted",
                  blurb: "While true, written frames are dropped (counted in discarded-frames) and the track shows no new frames",
                  flags: [.readWrite, .mutablePlaying], \.muted),
            .uint64("processing-deadline", nick: "Processing deadline",
                    blurb: "Time (ns) the writer's transform may take per frame; reported as latency on top of the upstream latency of the processors piping into this generator",
                    range: 0...10_000_000_000, \.deadline),
            .counter("total-frames", nick: "Total frames", blurb: "Frames written to this generator since it started") {
                $0.counters.withLock { $0.total }
            },
            .counter("discarded-frames", nick: "Discarded frames",
                     blurb: "Written frames dropped because the track was muted or not running") { $0.counters.withLock { $0.discarded } },
        ]).map(\.declaration)
    }

    let settings = SettingsStore(Settings())
    private struct Counters {
        var total: UInt64 = 0
        var discarded: UInt64 = 0
    }
    private let counters = Mutex(Counters())
    /// The channel named after this element, joined from READY to NULL.
    private let joined = Mutex<FrameChannel?>(nil)
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

    var kind: TrackKind { settings.value.kind }

    // MARK: the channel

    /// The channel this generator consumes: the one named after it (joined at READY), or,
    /// before that, looked up by its current name (a Swift writer may write at any time).
    private var channel: FrameChannel { joined.withLock { $0 } ?? FrameChannel.named(name) }

    override func changeState(_ transition: GstStateChange) -> GstStateChangeReturn {
        if transition == GST_STATE_CHANGE_NULL_TO_READY {
            let channel = FrameChannel.named(name)
            joined.withLock { $0 = channel }
            channel.attachConsumer(self)
        }
        let result = super.changeState(transition)
        if transition == GST_STATE_CHANGE_READY_TO_NULL, let channel = joined.withLock({ $0 }) {
            channel.detachConsumer(self)
            joined.withLock { $0 = nil }
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
        let settings = settings.value
        guard frame.kind == settings.kind else {
            let error = TrackGeneratorError.wrongKind(generator: name, generatorKind: settings.kind, frameKind: frame.kind)
            postError(.stream(GST_STREAM_ERROR_WRONG_TYPE), error.description,
                      debug: "a frame of the wrong kind was written to the generator")
            throw error
        }
        counters.withLock { counters in
            counters.total += 1
            if settings.muted { counters.discarded += 1 }
        }
        return !settings.muted
    }

    func discardedAdmittedFrame() { counters.withLock { $0.discarded += 1 } }

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
        counters.withLock { $0 = Counters() }
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
        let deadline = settings.value.deadline
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
