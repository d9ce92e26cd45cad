import CGStreamer
import GStreamerBridge
import MediaStreams
import Synchronization

/// `trackprocessor`: MediaStreamTrackProcessor as a GStreamer sink.
///
/// Each raw video/audio buffer becomes a `VideoFrame`/`AudioData` (pixels not copied) in a ring
/// of `max-buffer-size` frames that drops its oldest frame when full, so upstream never waits
/// (or, with `leaky=no`, makes upstream wait for room).
/// The ring is read by the transform named by `worker`, on the element's own worker thread,
/// whose output goes to the `trackgenerator` named by `pipe-to`; or, from Swift, by
/// `TrackProcessor.readable`.
///
/// Timing: as a live track, a non-live upstream is paced in real time (GstBaseSink `sync`), but
/// the pipeline latency is NOT added before frames reach the worker: the generator reports that
/// latency instead, so the frames are on time downstream of it. `async` defaults to false.
final class TrackProcessorElement: BaseSinkSubclass, HasSettings, TransformMessaging, @unchecked Sendable {
    static let category = DebugCategory("trackprocessor", description: "Swift MediaStreamTrackProcessor sink")
    static let directory = ElementDirectory<TrackProcessorElement>()

    override class var typeName: String { "GstTrackProcessor" }
    override class var metadata: ElementMetadata {
        ElementMetadata(
            longName: "Track processor (MediaStreamTrackProcessor)",
            classification: "Sink/Video/Audio",
            description: "Turns raw video/audio buffers into VideoFrame/AudioData for a Swift transform on a dedicated worker thread, optionally piped to a trackgenerator",
            author: "gst-insertable-streams developers")
    }
    override class var padTemplates: [PadTemplateSpec] {
        [PadTemplateSpec(name: "sink", direction: GST_PAD_SINK,
                         caps: VideoPixelFormat.capsString(VideoPixelFormat.allCases) + "; " + AudioSampleFormat.capsString)]
    }
    /// What a full ring does with one more frame (the `leaky` property; named after `queue`'s).
    enum Leaky: String, PropertyEnum {
        /// Upstream waits for room: every frame is processed (a non-live source, e.g. a file).
        case no
        /// The oldest frame is dropped: upstream never waits (MediaStreamTrackProcessor's ring).
        case downstream
        static var gTypeName: String { "GstTrackProcessorLeaky" }
        var summary: String {
            switch self {
            case .no: "Not leaky: upstream waits while the ring is full (back-pressure; no frame dropped)"
            case .downstream: "Leaky on downstream: the oldest frame is dropped (upstream never waits)"
            }
        }
        var policy: HandoffPolicy { self == .no ? .block : .dropOldest }
    }
    struct Settings: ElementSettings {
        var worker: String?
        var pipeTo: String?
        var maxBufferSize: UInt32 = 0
        var leaky = Leaky.downstream
        var applicationPipe: ApplicationPipe?
    }
    override class var properties: [PropertyDeclaration] {
        [ElementProperty<TrackProcessorElement>]([
            .string("worker", nick: "Worker transform",
                    blurb: "Transform run on every frame on the element's worker thread: transforms separated by '!', each with key=value parameters, e.g. \"sepia ! mirror\" or \"blur radius=8\". Known: \(TransformRegistry.listing). Unset: identity when pipe-to is set, otherwise frames wait for a Swift reader.\(TransformRegistry.problemsSentence) Transform modules are loaded from GST_INSERTABLE_STREAMS_MODULE_PATH",
                    \.worker),
            .string("pipe-to", nick: "Pipe to",
                    blurb: "Name of the channel, the trackgenerator of that name, that receives the transform's output (readable.pipeThrough(worker).pipeTo(generator.writable)); processor and generator meet by name in any pipeline of the process, whichever is created or started first",
                    \.pipeTo),
            .uint("max-buffer-size", nick: "Max buffer size",
                  blurb: "Frames the ring holds (maxBufferSize); when it is full the oldest is dropped, or with leaky=no upstream waits; 0 = 1 for video, 10 for audio",
                  range: 0...1024, \.maxBufferSize),
            .enumeration("leaky", nick: "Leaky",
                         blurb: "What a full ring does with one more frame: downstream = drop the oldest (counted in discarded-frames; upstream never waits, as MediaStreamTrackProcessor does for a live track), no = upstream waits until the worker has taken a frame (back-pressure, as a queue with leaky=no: for non-live sources such as files, where every frame should be processed)",
                         \.leaky),
            .counter("total-frames", nick: "Total frames",
                     blurb: "Frames that entered the ring since the element started (totalFrames)") { $0.ring.totalCount },
            .counter("discarded-frames", nick: "Discarded frames",
                     blurb: "Frames dropped from the ring because the consumer was slower than the source, or flushed (discardedFrames)") { $0.ring.droppedCount },
            .counter("failed-frames", nick: "Failed frames",
                     blurb: "Frames dropped because a transform threw (a warning is posted at most once a second)") { $0.failedFrames.load(ordering: .relaxed) },
        ]).map(\.declaration)
    }
    override class var signals: [SignalDeclaration] {
        [ElementSignal<TrackProcessorElement>]([
            // post-message(GstStructure): delivers a message to the running transforms.
            .action("post-message", structure: { $0.postMessage($1) }),
            // message(GstStructure): a message a transform posted.
            .emitted("message", parameters: [swift_type_structure()]),
            // transform-frame::NAME(GstSample) -> GstSample: the app transform's frames (worker thread).
            TransformFrameSignal.declaration(TrackProcessorElement.self),
            // post-worker-message(GstStructure): a transform-frame handler's postMessage.
            .action("post-worker-message", structure: { $0.postWorkerMessage($1) }),
        ]).map(\.declaration)
    }

    /// What the current caps describe; read on the streaming thread for every buffer.
    private enum MediaDescription: @unchecked Sendable {
        case video(GstVideoInfo, VideoPixelFormat)
        case audio(GstAudioInfo)
    }

    /// The frames between the streaming thread and the worker (or a Swift reader).
    let ring = FrameRing.ring(capacity: 1)
    /// Frames lost because a transform threw (`failed-frames`); the worker counts, any thread reads.
    let failedFrames = Atomic<UInt64>(0)
    let settings = SettingsStore(Settings())
    private let media = Mutex<MediaDescription?>(nil)
    private let running = Mutex<RunningState>(RunningState())

    private struct RunningState: @unchecked Sendable {
        var worker: ProcessorWorker?
        var acceptedCaps: String?
    }

    required init(element: UnsafeMutablePointer<GstElement>) {
        super.init(element: element)
        gst_base_sink_set_sync(baseSinkPointer, 1)
        gst_base_sink_set_qos_enabled(baseSinkPointer, 0)
        // No preroll: the generator's downstream sink can only preroll on frames this element
        // delivers, so an async state change here would deadlock a pipeline holding both.
        gst_base_sink_set_async_enabled(baseSinkPointer, 0)
        // last-sample would keep a reference to every frame, so transforms writing to it would
        // always have to copy it first.
        gst_base_sink_set_last_sample_enabled(baseSinkPointer, 0)
        interceptSinkPadEvents()
        Self.directory.add(self)
    }

    deinit { Self.directory.remove(self) }

    /// Swift applications: run `transformers` (instead of `worker`) into `writer` (instead of
    /// `pipe-to`). Takes effect at the next start.
    func setApplicationPipe(_ pipe: ApplicationPipe?) {
        settings.update { $0.applicationPipe = pipe }
    }

    // MARK: start / stop

    override func start() -> Bool {
        let settings = self.settings.value
        ring.reset()
        ring.setPolicy(settings.leaky.policy)
        let transformers: [any StreamTransformer<MediaFrame>]
        var output = ProcessorWorker.Output.none
        if let pipe = settings.applicationPipe {
            transformers = pipe.takeTransformers()
            if let writer = pipe.writer { output = .writer(writer) }
        } else {
            if let pipeTo = settings.pipeTo, !pipeTo.isEmpty { output = .channel(FrameChannel.named(pipeTo)) }
            let description = settings.worker ?? ""
            if description.trimmingCharacters(in: " \t\n").isEmpty {
                if case .none = output { transformers = [] } else { transformers = [IdentityTransformer<MediaFrame>()] }
            } else {
                do {
                    transformers = try TransformRegistry.makeTransformers(description, context: transformContext())
                } catch {
                    postError(.resource(GST_RESOURCE_ERROR_SETTINGS), "Invalid worker \"\(SecretRedaction.redactingWorker(description))\": \(error)",
                              debug: "the worker property could not be parsed into transforms")
                    return false
                }
            }
        }
        var state = RunningState()
        if !transformers.isEmpty {
            let worker = ProcessorWorker(element: self, ring: ring, transformers: transformers, output: output)
            state.worker = worker
            state.acceptedCaps = Self.acceptedCaps(kinds: worker.supportedKinds, formats: worker.supportedVideoFormats)
            worker.start()
        }
        running.withLock { $0 = state }
        Self.category.info("started: \(transformers.count) transform(s), output \(output)", object: self)
        return true
    }

    override func stop() -> Bool {
        ring.shutDown()
        let worker = running.withLock { state in
            defer { state = RunningState() }
            return state.worker
        }
        worker?.stop()
        media.withLock { $0 = nil }
        return true
    }

    /// "pipe-to=NAME names no trackgenerator", with the generators that are running.
    func noGeneratorText(_ name: String) -> String {
        let known = FrameChannel.consumerNames
        let hint = known.isEmpty ? "there is no running trackgenerator in this process"
            : "trackgenerators that exist: \(known.joined(separator: ", "))"
        return "pipe-to=\"\(name)\" names no trackgenerator (\(hint))"
    }

    private func transformContext() -> TransformContext {
        TransformContext(elementName: name) { [weak self] sourceName in
            guard let self else { return nil }
            return TrackProcessorElement.directory.find(sourceName, near: self)?.ring
        }
    }

    // MARK: messages (TransformMessaging)

    func deliverToTransforms(_ message: TransformMessage) -> MessageDelivery {
        guard let worker = running.withLock({ $0.worker }) else { return .notRunning }
        return worker.deliver(message)
    }

    var whenTransformsRun: String {
        "messages reach the transforms between the READY and NULL states of an element with a worker or pipe-to"
    }

    // MARK: caps

    static func acceptedCaps(kinds: Set<TrackKind>, formats: Set<VideoPixelFormat>?) -> String {
        var parts: [String] = []
        if kinds.contains(.video) {
            let allowed = VideoPixelFormat.allCases.filter { formats?.contains($0) ?? true }
            if !allowed.isEmpty { parts.append(VideoPixelFormat.capsString(allowed)) }
        }
        if kinds.contains(.audio) { parts.append(AudioSampleFormat.capsString) }
        return parts.isEmpty ? "EMPTY" : parts.joined(separator: "; ")
    }

    /// Template caps, narrowed to what the worker's transforms can process.
    override func caps(filter: UnsafeMutablePointer<GstCaps>?) -> UnsafeMutablePointer<GstCaps>? {
        var caps = gst_pad_get_pad_template_caps(sinkPad)!
        if let restriction = running.withLock({ $0.acceptedCaps }), let allowed = gst_caps_from_string(restriction) {
            let narrowed = gst_caps_intersect(caps, allowed)!
            gst_caps_unref(allowed)
            gst_caps_unref(caps)
            caps = narrowed
        }
        if let filter {
            let filtered = gst_caps_intersect_full(filter, caps, GST_CAPS_INTERSECT_FIRST)!
            gst_caps_unref(caps)
            caps = filtered
        }
        return caps
    }

    override func setCaps(_ caps: UnsafeMutablePointer<GstCaps>) -> Bool {
        let structure = gst_caps_get_structure(caps, 0)
        let isVideo = structure.map { gst_structure_has_name($0, "video/x-raw") != 0 } ?? false
        let description: MediaDescription
        if isVideo {
            var info = GstVideoInfo()
            guard gst_video_info_from_caps(&info, caps) != 0,
                  let format = VideoPixelFormat(gstFormat: swift_video_info_format(&info)) else {
                Self.category.warning("refusing caps \(describeCaps(caps))", object: self)
                return false
            }
            description = .video(info, format)
        } else {
            var info = GstAudioInfo()
            guard gst_audio_info_from_caps(&info, caps) != 0 else { return false }
            description = .audio(info)
        }
        media.withLock { $0 = description }
        let configured = Int(settings.value.maxBufferSize)
        ring.setCapacity(configured > 0 ? configured : (isVideo ? 1 : 10))
        Self.category.info("caps \(describeCaps(caps)), ring of \(configured > 0 ? configured : (isVideo ? 1 : 10))", object: self)
        return true
    }

    // MARK: data flow

    override func render(_ buffer: UnsafeMutablePointer<GstBuffer>) -> GstFlowReturn {
        guard let description = media.withLock({ $0 }) else {
            postError(.core(GST_CORE_ERROR_NEGOTIATION), "Received a buffer before caps", debug: nil)
            return GST_FLOW_NOT_NEGOTIATED
        }
        let timing = timing(of: buffer)
        let frame: MediaFrame
        switch description {
        case .video(let info, let format):
            frame = .video(VideoFrame(buffer: gst_buffer_ref(buffer), info: info, format: format, timing: timing))
        case .audio(let info):
            guard let audio = AudioData(buffer: gst_buffer_ref(buffer), info: info, timing: timing) else {
                return GST_FLOW_NOT_NEGOTIATED
            }
            frame = .audio(audio)
        }
        switch ring.push(frame) {
        case .accepted: return GST_FLOW_OK
        // Only a ring with leaky=no waits: a flush or a stop ended the wait, the frame is dropped.
        case .flushing, .cancelled: return GST_FLOW_FLUSHING
        case .ended: return GST_FLOW_EOS
        case .refused(let code): return GstFlowReturn(code)
        }
    }

    private func timing(of buffer: UnsafeMutablePointer<GstBuffer>) -> FrameTiming {
        let none = swift_clock_time_none()
        let pts = swift_buffer_pts(buffer)
        let duration = swift_buffer_duration(buffer)
        var timing = FrameTiming(pts: pts == none ? nil : UInt64(pts), duration: duration == none ? nil : UInt64(duration))
        if pts != none {
            let runningTime = gst_segment_to_running_time(&baseSinkPointer.pointee.segment, GST_FORMAT_TIME, pts)
            if runningTime != none {
                timing.clockTime = UInt64(runningTime) + UInt64(gst_element_get_base_time(elementPointer))
            }
        }
        return timing
    }

    /// EOS must reach GstBaseSink (which posts the EOS message) only once the worker has flushed
    /// its transforms and ended the generator's track. The wait happens before GstBaseSink sees
    /// the event, under the stream lock only: GstBaseSink would hold its PREROLL lock, which a
    /// state change to PLAYING also needs, while the worker may need exactly that state change
    /// (of the generator) to drain. State changes flush the ring (unlock) before they take it.
    /// The pad's deactivation sets its FLUSHING flag, then calls unlock and unlock_stop at once:
    /// a flush that ended before the wait began is seen by the ticket (flush after `endStream`)
    /// or by the flag (flush before it).
    ///
    /// FLUSH_START also takes back the frame the worker handed to the generator that it has not
    /// shown yet: GstBaseSink's unlock (the same ring flush and interrupt) comes right after.
    override func sinkPadEventBeforeBaseSink(_ event: UnsafeMutablePointer<GstEvent>) {
        if swift_event_type(event) == GST_EVENT_FLUSH_START { return interruptFlow(withdrawing: true) }
        guard swift_event_type(event) == GST_EVENT_EOS else { return }
        let ticket = ring.endStream()
        guard running.withLock({ $0.worker != nil }), swift_pad_is_flushing(sinkPad) == 0 else { return }
        if !ring.waitUntilEndAcknowledged(since: ticket) { Self.category.debug("EOS drain interrupted by a flush or stop", object: self) }
    }

    /// Flush-start and the way to READY: drop what waits, wake a drain and a blocked write.
    override func unlock() -> Bool {
        interruptFlow(withdrawing: false)
        return super.unlock()
    }

    /// The ring flushes (its count of interruptions moves, which refuses the worker's writes of
    /// what it took before), then a write blocked on the generator wakes; `withdrawing` also
    /// takes back the frame handed over and not yet shown.
    private func interruptFlow(withdrawing: Bool) {
        ring.setFlushing(true)
        guard let worker = running.withLock({ $0.worker }) else { return }
        worker.interrupt()
        if withdrawing { worker.withdrawWritten() }
    }

    /// Flush-stop: frames flow again and the worker resumes.
    override func unlockStop() -> Bool {
        resumeFlow()
        return super.unlockStop()
    }

    override func changeState(_ transition: GstStateChange) -> GstStateChangeReturn {
        // READY->PAUSED after a PAUSED->READY (no stop/start in between): leave the flushing state.
        if transition == GST_STATE_CHANGE_READY_TO_PAUSED { resumeFlow() }
        return super.changeState(transition)
    }

    private func resumeFlow() {
        guard ring.state.mode == .flushing else { return }
        ring.setFlushing(false)
        running.withLock { $0.worker }?.resume()
    }

    /// The pipeline's LATENCY event is not applied: frames go to the worker as soon as they are
    /// due, and the generator's reported latency covers the hop (see the type's comment).
    override func sendEvent(_ event: UnsafeMutablePointer<GstEvent>) -> Bool {
        if swift_event_type(event) == GST_EVENT_LATENCY {
            Self.category.debug("not delaying frames by the pipeline latency", object: self)
            gst_event_unref(event)
            return true
        }
        return super.sendEvent(event)
    }

    /// Upstream's latency when it is live (what a generator fed by this processor adds).
    func upstreamLatency() -> UInt64? {
        let query = gst_query_new_latency()!
        defer { gst_query_unref(query) }
        guard gst_pad_peer_query(sinkPad, query) != 0 else { return nil }
        var live: gboolean = 0
        var minimum: GstClockTime = 0
        var maximum: GstClockTime = 0
        gst_query_parse_latency(query, &live, &minimum, &maximum)
        return live != 0 ? UInt64(minimum) : 0
    }
}

/// What a Swift application set up with `readable.pipeThrough(...).pipeTo(...)`.
final class ApplicationPipe: @unchecked Sendable {
    private var transformers: [any StreamTransformer<MediaFrame>]
    let writer: FrameWriter?

    init(transformers: sending [any StreamTransformer<MediaFrame>], writer: FrameWriter?) {
        self.transformers = transformers
        self.writer = writer
    }

    /// Handed to the worker thread at start, which is then their only user.
    func takeTransformers() -> [any StreamTransformer<MediaFrame>] { transformers }
}
