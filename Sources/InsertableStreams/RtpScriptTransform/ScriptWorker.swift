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
final class ScriptWorker: EncodedTransformHost, @unchecked Sendable {
    private enum DataItem {
        case buffer(UnsafeMutablePointer<GstBuffer>)
        case event(UnsafeMutablePointer<GstEvent>)
    }

    private enum ControlItem {
        case message(TransformMessage)
        case keyFrameRequest(UnsafeMutablePointer<GstEvent>, allHeaders: Bool)
        case run(@Sendable () throws -> Void)
    }

    private enum Item {
        case control(ControlItem)
        case data(DataItem)
    }

    private static let streamCounter = Atomic<UInt64>(0)

    private unowned let element: RtpScriptTransformElement
    private let sinkPad: UnsafeMutablePointer<GstPad>
    private let srcPad: UnsafeMutablePointer<GstPad>
    let side: TransformSide
    let options: TransformMessage
    private let rid: String?
    private let capacity: Int
    private let streamInfo: RTPStreamInfoSource
    let counters: Counters
    private let failures = FailureReporter()
    private let streamID = ScriptWorker.streamCounter.add(1, ordering: .relaxed).newValue

    // Shared between threads, under `sync`.
    private let sync = LockedCondition()
    private var data = FIFO<DataItem>()
    private var controls: [ControlItem] = []
    /// Who sleeps on `sync`: signalling only then saves a futex wake-up per frame (what
    /// GStreamer's `queue` does too); small audio frames make that the dominant cost.
    private var workerWaiting = false
    private var producerWaiting = false
    private var queuedBuffers = 0
    private var flushing = true
    private var downstreamFlow = GST_FLOW_OK

    // Known from the caps; read by action signals on application threads.
    private let codecState = Mutex<(codec: EncodedCodec?, size: Size?)>((nil, nil))
    private struct Size { var width: Int, height: Int }
    private let pendingKeyFrames = Mutex<[@Sendable (Result<Int64?, EncodedTransformError>) -> Void]>([])
    private let workerThread = Atomic<UInt>(0)

    // Worker thread only.
    private var workerCodec: EncodedCodec?
    private var workerSize: Size?
    private var chainStarted = false
    private var chainFailed = false
    private var sequence: UInt64 = 0
    private var lastWritten: UInt64 = 0
    private var segment = GstSegment()

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
         transformers: [EncodedFrameTransformer], counters: Counters) {
        self.element = element
        self.sinkPad = sinkPad
        self.srcPad = srcPad
        self.side = side
        self.options = options
        self.rid = rid
        self.capacity = capacity
        self.counters = counters
        streamInfo = RTPStreamInfoSource(side: side, sinkPad: sinkPad, srcPad: srcPad)
        gst_segment_init(&segment, GST_FORMAT_TIME)
        transformChain = EncodedTransformChain(stages: transformers, host: self)
    }

    /// Refers back to `self` as its host, so it is made last in `init`.
    private var transformChain: EncodedTransformChain!

    var neighbourName: String? { streamInfo.neighbourName }

    /// Codecs the transforms accept (nil: any).
    var supportedCodecs: Set<EncodedCodec>? { transformChain.supportedCodecs }

    var currentCodec: EncodedCodec? { codecState.withLock { $0.codec } }

    // MARK: upstream side (streaming thread, application threads)

    /// Queues a buffer (transfer full); blocks while `capacity` buffers wait.
    func submit(_ buffer: UnsafeMutablePointer<GstBuffer>) -> GstFlowReturn {
        let result: GstFlowReturn = sync.withLock {
            while queuedBuffers >= capacity && !flushing && downstreamFlow == GST_FLOW_OK {
                producerWaiting = true
                sync.wait()
                producerWaiting = false
            }
            if flushing { return swift_flow_flushing() }
            if downstreamFlow != GST_FLOW_OK { return downstreamFlow }
            data.append(.buffer(buffer))
            queuedBuffers += 1
            if workerWaiting { sync.broadcast() }
            return GST_FLOW_OK
        }
        if result != GST_FLOW_OK { gst_buffer_unref(buffer) }
        return result
    }

    /// Queues a serialized event (transfer full) in its place among the buffers.
    func submit(_ event: UnsafeMutablePointer<GstEvent>) -> Bool {
        let accepted = sync.withLock {
            guard !flushing else { return false }
            data.append(.event(event))
            if workerWaiting { sync.broadcast() }
            return true
        }
        if !accepted { gst_event_unref(event) }
        return accepted
    }

    /// `post-message`: delivered to every transform on the worker thread.
    func deliver(_ message: TransformMessage) {
        sync.withLock {
            controls.append(.message(message))
            sync.broadcast()
        }
    }

    /// An upstream force-key-unit event from downstream (PLI/FIR on the send side).
    func keyFrameRequested(_ event: UnsafeMutablePointer<GstEvent>, allHeaders: Bool) {
        counters.keyFrameRequests.add(1, ordering: .relaxed)
        let queued = sync.withLock {
            guard !flushing else { return false }
            controls.append(.keyFrameRequest(event, allHeaders: allHeaders))
            sync.broadcast()
            return true
        }
        // Not running: the encoder still gets the request.
        if !queued { _ = gst_pad_push_event(sinkPad, event) }
    }

    /// Flush-start (true) / flush-stop or start (false). Starting to flush drops what waits.
    func setFlushing(_ value: Bool) {
        let dropped: ([DataItem], [ControlItem]) = sync.withLock {
            flushing = value
            if !value { downstreamFlow = GST_FLOW_OK }
            sync.broadcast()
            guard value else { return ([], []) }
            defer {
                data = FIFO()
                queuedBuffers = 0
                controls.removeAll { if case .message = $0 { false } else { true } }
            }
            return (data.elements, controls.filter { if case .message = $0 { false } else { true } })
        }
        for item in dropped.0 {
            switch item {
            case .buffer(let buffer): gst_buffer_unref(buffer)
            case .event(let event): gst_event_unref(event)
            }
        }
        for item in dropped.1 {
            switch item {
            case .keyFrameRequest(let event, _): gst_event_unref(event)
            case .run, .message: break
            }
        }
    }

    /// Records the codec of accepted caps (checked by the element before they are queued).
    private func noteCaps(codec: EncodedCodec, width: Int?, height: Int?) {
        let size = width.flatMap { width in height.map { Size(width: width, height: $0) } }
        workerCodec = codec
        workerSize = size
        codecState.withLock { $0 = (codec, size) }
    }

    // MARK: the worker thread (src pad task)

    /// One step of the src pad's task. Pauses the task when flushing.
    func iterate() {
        workerThread.store(UInt(pthread_self()), ordering: .relaxed)
        let item: Item? = sync.withLock {
            while controls.isEmpty && data.isEmpty && !flushing {
                workerWaiting = true
                sync.wait()
                workerWaiting = false
            }
            if !controls.isEmpty { return .control(controls.removeFirst()) }
            if flushing { return nil }
            guard let next = data.popFirst() else { return nil }
            if case .buffer = next { queuedBuffers -= 1 }
            if producerWaiting { sync.broadcast() }
            return .data(next)
        }
        guard let item else {
            element.pausePadTask(srcPad)
            return
        }
        guard startChainIfNeeded() else {
            release(item)
            return
        }
        switch item {
        case .control(.message(let message)):
            do { try transformChain.deliver(message) } catch { failures.report(error, element: element) }
        case .control(.keyFrameRequest(let event, let allHeaders)):
            let request = KeyFrameRequest(allHeaders: allHeaders)
            transformChain.keyFrameRequested(request)
            if request.isCancelled {
                RtpScriptTransformElement.category.info("the transform cancelled a key frame request", object: element)
                gst_event_unref(event)
            } else {
                _ = gst_pad_push_event(sinkPad, event)
            }
        case .control(.run(let work)):
            do { try work() } catch {
                counters.failed.add(1, ordering: .relaxed)
                failures.report(error, element: element)
            }
        case .data(.buffer(let buffer)):
            process(buffer)
        case .data(.event(let event)):
            process(event)
        }
    }

    private func release(_ item: Item) {
        switch item {
        case .control(.keyFrameRequest(let event, _)): gst_event_unref(event)
        case .control(.run), .control(.message): break
        case .data(.buffer(let buffer)): gst_buffer_unref(buffer)
        case .data(.event(let event)): _ = gst_pad_push_event(srcPad, event)
        }
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

    func schedule(_ work: @escaping @Sendable () throws -> Void) {
        sync.withLock {
            controls.append(.run(work))
            sync.broadcast()
        }
    }

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
        sync.withLock {
            downstreamFlow = flow
            sync.broadcast()
        }
        if flow == swift_flow_flushing() {
            element.pausePadTask(srcPad)
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

/// A first-in first-out queue whose `popFirst` does not shift the remaining elements.
private struct FIFO<Element> {
    private var storage: [Element] = []
    private var head = 0

    var isEmpty: Bool { head == storage.count }
    var elements: [Element] { Array(storage[head...]) }

    mutating func append(_ element: Element) { storage.append(element) }

    mutating func popFirst() -> Element? {
        guard head < storage.count else { return nil }
        let element = storage[head]
        head += 1
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64 && head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
        return element
    }
}
