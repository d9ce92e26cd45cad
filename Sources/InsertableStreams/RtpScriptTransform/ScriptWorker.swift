import CGStreamer
import EncodedStreams
import GStreamerBridge
import Glibc
import Synchronization

/// The running half of one `rtpscripttransform` between READY->PAUSED and PAUSED->READY: a
/// queue between the upstream streaming thread and the element's worker thread (its src pad's
/// task), the transform chain that thread runs, and what the transforms call back into
/// (`EncodedTransformHost`).
///
/// Upstream only queues: buffers and serialized events wait in order (upstream blocks when
/// `capacity` buffers wait, as with `queue`). The worker takes control items first (messages
/// from the application, key frame requests from downstream, frames enqueued from other
/// threads), then data: each buffer becomes an encoded frame handed to the chain, each event is
/// pushed on in its place.
final class ScriptWorker: EncodedTransformHost, ApplicationSignalHost, @unchecked Sendable {
    private enum DataItem: @unchecked Sendable {
        case buffer(UnsafeMutablePointer<GstBuffer>)
        case event(UnsafeMutablePointer<GstEvent>)
    }

    private enum ControlItem: @unchecked Sendable {
        case message(TransformMessage)
        case keyFrameRequest(UnsafeMutablePointer<GstEvent>, allHeaders: Bool)
        case run(@Sendable () throws -> Void)
    }

    private static let streamCounter = Atomic<UInt64>(0)

    private unowned let element: RtpScriptTransformElement
    private let sinkPad: UnsafeMutablePointer<GstPad>
    private let srcPad: UnsafeMutablePointer<GstPad>
    let side: TransformSide
    let options: TransformMessage
    let rid: String?
    private let capacity: Int
    private let streamInfo: RTPStreamInfoSource
    let counters: Counters
    private let failures = FailureReporter()
    private let streamID = ScriptWorker.streamCounter.add(1, ordering: .relaxed).newValue

    /// Buffers and serialized events in order (upstream blocks when `capacity` buffers wait),
    /// and control items served first. Messages survive a flush; a key frame request that never
    /// reached the transform goes on to the encoder.
    private let queue: HandoffQueue<DataItem, ControlItem>
    /// The src pad's task.
    private var thread: StreamWorker!

    // Known from the caps; read by action signals on application threads.
    private let codecState = Mutex<(codec: EncodedCodec?, size: Size?)>((nil, nil))
    private struct Size { var width: Int, height: Int }
    private let pendingKeyFrames = Mutex<[@Sendable (Result<Int64?, EncodedTransformError>) -> Void]>([])
    private let workerThread = Atomic<UInt>(0)

    // Worker thread only (so no dynamic exclusivity checks: `segment` alone cost one
    // swift_beginAccess/endAccess pair per frame).
    @exclusivity(unchecked) private var workerCodec: EncodedCodec?
    @exclusivity(unchecked) private var workerSize: Size?
    /// The caps of the frames the chain processes now (a reference), for the app transform.
    @exclusivity(unchecked) private(set) var currentCaps: UnsafeMutablePointer<GstCaps>?
    @exclusivity(unchecked) private var chainStarted = false
    @exclusivity(unchecked) private var chainFailed = false
    @exclusivity(unchecked) private var sequence: UInt64 = 0
    @exclusivity(unchecked) private var lastWritten: UInt64 = 0
    @exclusivity(unchecked) private var segment = GstSegment()

    /// Counters read by the element's properties.
    final class Counters: Sendable {
        let total = Atomic<UInt64>(0)
        let written = Atomic<UInt64>(0)
        let rejected = Atomic<UInt64>(0)
        let failed = Atomic<UInt64>(0)
        let keyFrameRequests = Atomic<UInt64>(0)
    }

    init(element: RtpScriptTransformElement, sinkPad: UnsafeMutablePointer<GstPad>, srcPad: UnsafeMutablePointer<GstPad>,
         side: TransformSide, options: TransformMessage, rid: String?, capacity: Int,
         transformers: [any StreamTransformer<EncodedFrame>], counters: Counters) {
        self.element = element
        self.sinkPad = sinkPad
        self.srcPad = srcPad
        self.side = side
        self.options = options
        self.rid = rid
        self.capacity = capacity
        self.counters = counters
        streamInfo = RTPStreamInfoSource(side: side, sinkPad: sinkPad, srcPad: srcPad)
        let upstream = SendablePad(pad: sinkPad)
        queue = HandoffQueue(policy: .block, capacity: capacity, handlers: .init(
            discardData: { item in
                switch item {
                case .buffer(let buffer): gst_buffer_unref(buffer)
                case .event(let event): gst_event_unref(event)
                }
            },
            discardControl: { item in
                if case .keyFrameRequest(let event, _) = item { _ = gst_pad_push_event(upstream.pad, event) }
            },
            countsTowardCapacity: { if case .buffer = $0 { true } else { false } },
            keepsOnFlush: { if case .message = $0 { true } else { false } }))
        queue.setFlushing(true)
        gst_segment_init(&segment, GST_FORMAT_TIME)
        transformChain = TransformChain(stages: transformers, host: self)
        // The element stops the thread before it lets go of this worker: no reference count
        // per iteration.
        let worker = Unmanaged.passUnretained(self)
        thread = StreamWorker(pad: srcPad) { worker._withUnsafeGuaranteedRef { $0.iterate() } }
    }

    deinit { if let currentCaps { gst_caps_unref(currentCaps) } }

    private struct SendablePad: @unchecked Sendable { let pad: UnsafeMutablePointer<GstPad> }

    /// Refers back to `self` as its host, so it is made last in `init`.
    private var transformChain: TransformChain<EncodedFrame>!

    var neighbourName: String? { streamInfo.neighbourName }

    /// Codecs the transforms accept (nil: any).
    var supportedCodecs: Set<EncodedCodec>? { transformChain.supportedCodecs }

    var currentCodec: EncodedCodec? { codecState.withLock { $0.codec } }

    // MARK: upstream side (streaming thread, application threads)

    /// Queues a buffer (transfer full); blocks while `capacity` buffers wait.
    func submit(_ buffer: UnsafeMutablePointer<GstBuffer>) -> GstFlowReturn {
        switch queue.push(.buffer(buffer)) {
        case .accepted: GST_FLOW_OK
        case .refused(let code): GstFlowReturn(rawValue: code)
        case .flushing, .ended, .cancelled: swift_flow_flushing()
        }
    }

    /// Queues a serialized event (transfer full) in its place among the buffers.
    func submit(_ event: UnsafeMutablePointer<GstEvent>) -> Bool {
        queue.push(.event(event)) == .accepted
    }

    /// `post-message`: delivered to every transform on the worker thread (bounded lane).
    func deliver(_ message: TransformMessage) -> MessageDelivery {
        MessageDelivery(queue.pushBoundedControl(.message(message)))
    }

    /// An upstream force-key-unit event from downstream (PLI/FIR on the send side). When the
    /// transform is not running the encoder still gets it.
    func keyFrameRequested(_ event: UnsafeMutablePointer<GstEvent>, allHeaders: Bool) {
        counters.keyFrameRequests.add(1, ordering: .relaxed)
        queue.pushControl(.keyFrameRequest(event, allHeaders: allHeaders))
    }

    /// Flush-start (true) / flush-stop or start (false). Starting to flush drops what waits.
    func setFlushing(_ value: Bool) { queue.setFlushing(value) }

    /// Starts or resumes the worker thread (the src pad's task).
    func startThread() { thread.start() }
    /// Pauses it (flush-start); it pauses itself when it finds the queue flushing.
    func pauseThread() { thread.pause() }
    /// Stops and joins it; the queue must be flushing.
    func stopThread() { thread.stop() }

    /// Records the codec of accepted caps (checked by the element before they are queued).
    private func noteCaps(codec: EncodedCodec, width: Int?, height: Int?) {
        let size = width.flatMap { width in height.map { Size(width: width, height: $0) } }
        workerCodec = codec
        workerSize = size
        codecState.withLock { $0 = (codec, size) }
    }

    // MARK: the worker thread (src pad task)

    /// One step of the src pad's task. Pauses the task when flushing.
    private func iterate() {
        workerThread.store(UInt(pthread_self()), ordering: .relaxed)
        switch queue.next() {
        case .control(let control):
            guard startChainIfNeeded() else { return release(control) }
            handle(control)
        case .data(.buffer(let buffer)):
            guard startChainIfNeeded() else { return gst_buffer_unref(buffer) }
            process(buffer)
        case .data(.event(let event)):
            guard startChainIfNeeded() else {
                _ = gst_pad_push_event(srcPad, event)
                return
            }
            process(event)
        case .flushing, .shutdown, .endOfStream:
            thread.pause()
        }
    }

    private func handle(_ control: ControlItem) {
        switch control {
        case .message(let message):
            do { try transformChain.deliver(message) } catch { failures.report(error, element: element) }
        case .keyFrameRequest(let event, let allHeaders):
            let request = KeyFrameRequest(allHeaders: allHeaders)
            transformChain.keyFrameRequested(request)
            if request.isCancelled {
                RtpScriptTransformElement.category.info("the transform cancelled a key frame request", object: element)
                gst_event_unref(event)
            } else {
                _ = gst_pad_push_event(sinkPad, event)
            }
        case .run(let work):
            do { try work() } catch {
                counters.failed.add(1, ordering: .relaxed)
                failures.report(error, element: element)
            }
        }
    }

    private func release(_ control: ControlItem) {
        if case .keyFrameRequest(let event, _) = control { gst_event_unref(event) }
    }

    private func startChainIfNeeded() -> Bool {
        if chainStarted { return true }
        if chainFailed { return false }
        do {
            try transformChain.start()
            chainStarted = true
            return true
        } catch {
            chainFailed = true
            element.postError(.library(GST_LIBRARY_ERROR_INIT), "The worker transform failed to start: \(error)",
                              debug: "start(controller:) of a transform threw; no frame will pass")
            stopDownstream(GST_FLOW_ERROR)
            return false
        }
    }

    private func process(_ buffer: UnsafeMutablePointer<GstBuffer>) {
        let size = workerSize
        guard let codec = workerCodec else {
            gst_buffer_unref(buffer)
            element.postError(.core(GST_CORE_ERROR_NEGOTIATION), "Received an encoded frame before caps", debug: nil)
            stopDownstream(GST_FLOW_NOT_NEGOTIATED)
            return
        }
        sequence += 1
        let origin = FrameOrigin(stream: streamID, sequence: sequence)
        let info = streamInfo.info(for: buffer, runningTime: runningTime(of: buffer))
        let frame: EncodedFrame
        if codec.kind == .video {
            let video = EncodedVideoFrame(buffer: buffer, codec: codec, origin: origin, streamInfo: info,
                                          capsSize: size.map { ($0.width, $0.height) })
            if video.type == .key { resolveKeyFrameRequests(timestamp: video.timestamp) }
            frame = video
        } else {
            frame = EncodedAudioFrame(buffer: buffer, codec: codec, origin: origin, streamInfo: info)
        }
        counters.total.add(1, ordering: .relaxed)
        do {
            try transformChain.process(frame)
        } catch {
            counters.failed.add(1, ordering: .relaxed)
            frame.close()
            failures.report(error, element: element)
        }
    }

    private func process(_ event: UnsafeMutablePointer<GstEvent>) {
        switch swift_event_type(event) {
        case GST_EVENT_SEGMENT:
            gst_event_copy_segment(event, &segment)
        case GST_EVENT_CAPS:
            // In stream order: frames queued before new caps keep the codec they came with.
            var caps: UnsafeMutablePointer<GstCaps>?
            gst_event_parse_caps(event, &caps)
            if let caps, let (codec, width, height) = RtpScriptTransformElement.codec(of: caps) {
                noteCaps(codec: codec, width: width, height: height)
                if let previous = currentCaps { gst_caps_unref(previous) }
                currentCaps = gst_caps_ref(caps)
            }
        case GST_EVENT_EOS:
            do { try transformChain.flush() } catch { failures.report(error, element: element) }
        default:
            break
        }
        _ = gst_pad_push_event(srcPad, event)
    }

    private func runningTime(of buffer: UnsafeMutablePointer<GstBuffer>) -> UInt64? {
        let pts = swift_buffer_pts(buffer)
        guard pts != swift_clock_time_none() else { return nil }
        let time = gst_segment_to_running_time(&segment, GST_FORMAT_TIME, pts)
        return time == swift_clock_time_none() ? nil : UInt64(time)
    }

    // MARK: EncodedTransformHost

    var isOnWorkerThread: Bool { workerThread.load(ordering: .relaxed) == UInt(pthread_self()) }

    func schedule(_ work: @escaping @Sendable () throws -> Void) { queue.pushControl(.run(work)) }

    func write(_ frame: EncodedFrame) throws { push(frame) }

    /// Pushes `frame` downstream unless it comes from another stream, out of order or twice.
    /// Worker thread only.
    private func push(_ frame: EncodedFrame) {
        guard frame.origin.stream == streamID, frame.origin.sequence > lastWritten, let buffer = frame.takeBuffer() else {
            counters.rejected.add(1, ordering: .relaxed)
            RtpScriptTransformElement.category.warning(
                "dropping a frame written out of order, twice or by another element (frame \(frame.origin.sequence), last written \(lastWritten))",
                object: element)
            frame.close()
            return
        }
        lastWritten = frame.origin.sequence
        let flow = gst_pad_push(srcPad, buffer)
        counters.written.add(1, ordering: .relaxed)
        if flow != GST_FLOW_OK { stopDownstream(flow) }
    }

    /// Downstream refused data: remember it (upstream gets it back from `submit`), pause, and
    /// for fatal flows post the error and end the stream, as GStreamer's own elements do.
    private func stopDownstream(_ flow: GstFlowReturn) {
        queue.refuse(flow.rawValue)
        if flow == swift_flow_flushing() {
            thread.pause()
            return
        }
        RtpScriptTransformElement.category.info("downstream returned \(String(cString: gst_flow_get_name(flow)))", object: element)
        if flow == GST_FLOW_NOT_LINKED || flow.rawValue < GST_FLOW_EOS.rawValue {
            element.postError(.stream(GST_STREAM_ERROR_FAILED), "Internal data stream error.",
                              debug: "streaming stopped, reason \(String(cString: gst_flow_get_name(flow)))")
            _ = gst_pad_push_event(srcPad, gst_event_new_eos())
        }
    }

    func post(_ message: TransformMessage) {
        element.deliverToApplication(message)
    }

    var signalElement: ElementSubclass { element }

    func generateKeyFrame(rid requested: String?, completion: (@Sendable (Result<Int64?, EncodedTransformError>) -> Void)?) throws {
        guard side == .send else {
            throw EncodedTransformError.invalidState("generateKeyFrame is only possible on the send side (between encoder and payloader); this rtpscripttransform is on the receive side: ask the remote sender with sendKeyFrameRequest() / send-key-frame-request")
        }
        if let codec = currentCodec, codec.kind == .audio {
            throw EncodedTransformError.invalidState("generateKeyFrame applies to video; this rtpscripttransform carries \(codec.mimeType)")
        }
        if let requested {
            guard Self.isValidRid(requested) else {
                throw EncodedTransformError.invalidArgument("rid \"\(requested)\" is malformed: a rid is 1 to 255 characters among A-Z, a-z, 0-9, '-' and '_' (RFC 8851)")
            }
            guard requested == rid else {
                throw EncodedTransformError.notFound("no layer has rid \"\(requested)\": this element carries \(rid.map { "rid \"\($0)\" (its rid property)" } ?? "a single layer without rid (set the rid property to name it)")")
            }
        }
        if let completion { pendingKeyFrames.withLock { $0.append(completion) } }
        guard let event = gst_video_event_new_upstream_force_key_unit(swift_clock_time_none(), 1, 0) else { return }
        if gst_pad_push_event(sinkPad, event) == 0 {
            RtpScriptTransformElement.category.warning("no element upstream handled the force-key-unit request", object: element)
        }
    }

    func sendKeyFrameRequest() throws {
        guard side == .receive else {
            throw EncodedTransformError.invalidState("sendKeyFrameRequest is only possible on the receive side (between depayloader and decoder); this rtpscripttransform is on the send side: use generateKeyFrame() / generate-key-frame")
        }
        if let codec = currentCodec, codec.kind == .audio {
            throw EncodedTransformError.invalidState("sendKeyFrameRequest applies to video; this rtpscripttransform carries \(codec.mimeType)")
        }
        // all-headers: rtpsession sends a FIR when the remote supports it, a PLI otherwise.
        guard let event = gst_video_event_new_upstream_force_key_unit(swift_clock_time_none(), 1, 0) else { return }
        if gst_pad_push_event(sinkPad, event) == 0 {
            RtpScriptTransformElement.category.warning("no element upstream handled the key frame request (is there an rtpsession upstream?)", object: element)
        }
    }

    private func resolveKeyFrameRequests(timestamp: Int64?) {
        let waiting = pendingKeyFrames.withLock { pending in
            defer { pending.removeAll() }
            return pending
        }
        for completion in waiting { completion(.success(timestamp)) }
    }

    static func isValidRid(_ rid: String) -> Bool {
        !rid.isEmpty && rid.utf8.count <= 255 && rid.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
    }
}
