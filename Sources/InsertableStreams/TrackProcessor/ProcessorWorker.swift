import CGStreamer
import GStreamerBridge
import Glibc
import MediaStreams
import Synchronization

/// The running half of one `trackprocessor` (NULL->READY to READY->NULL): its worker thread
/// takes frames from the ring, runs them through the transform chain and writes the results to
/// the output: the `pipe-to` channel, a Swift writer, or nowhere.
///
/// One buffer's path: `render` (streaming thread) wraps it as a frame and pushes it into the
/// ring -> `iterate` (worker thread) -> `TransformChain.process` -> each transform's
/// `controller.enqueue` -> `write` -> `FrameChannel.write` -> the generator's `create`.
final class ProcessorWorker: TransformHost, ApplicationSignalHost, @unchecked Sendable {
    typealias Frame = MediaFrame

    enum Output {
        case channel(FrameChannel)
        case writer(FrameWriter)
        case none
    }

    private unowned let element: TrackProcessorElement
    let ring: FrameRing
    private let output: Output
    private var chain: TransformChain<MediaFrame>!
    private var thread: StreamWorker!
    private var producer: FrameChannel.ProducerID?
    /// The last frame written to the channel (at most one of ours waits there: each write waits
    /// for room), for `withdrawWritten` to take back after a flush. Held, so that its identity
    /// cannot pass to another producer's frame.
    private let lastWritten = Mutex<MediaFrame?>(nil)
    private let workerThread = Atomic<UInt>(0)
    private let failures = FailureReporter()

    // Worker thread only (no dynamic exclusivity checks).
    @exclusivity(unchecked) private var chainState = ChainState.notStarted
    private enum ChainState { case notStarted, started, failed }
    @exclusivity(unchecked) private var framesWithoutConsumer: UInt64 = 0
    @exclusivity(unchecked) private var wroteToConsumer = false
    /// The ring's count of flushes and stops when the worker took its last item: a write after
    /// a later one carries a frame of the flushed stream and is refused (even after the flush
    /// ended), and a write waiting for the generator gives up.
    @exclusivity(unchecked) private var epoch: UInt64 = 0

    init(element: TrackProcessorElement, ring: FrameRing, transformers: [any StreamTransformer<MediaFrame>], output: Output) {
        self.element = element
        self.ring = ring
        self.output = output
        chain = TransformChain(stages: transformers, host: self)
        // The element stops the thread before it lets go of this worker: no reference count
        // per iteration.
        let worker = Unmanaged.passUnretained(self)
        thread = StreamWorker(name: "\(element.name):worker") { worker._withUnsafeGuaranteedRef { $0.iterate() } }
        if case .channel(let channel) = output {
            producer = channel.attachProducer { [weak element] in element?.upstreamLatency() }
        }
    }

    var supportedVideoFormats: Set<VideoPixelFormat>? { chain.supportedVideoFormats }
    var supportedKinds: Set<TrackKind> { chain.supportedKinds }

    func start() { thread.start() }

    /// The ring must be shut down already, so that the loop returns; joins the thread.
    func stop() {
        interrupt()
        thread.stop()
        lastWritten.withLock { $0 = nil }
        if case .channel(let channel) = output, let producer { channel.detachProducer(producer) }
    }

    /// Flush or stop, once the ring is flushing or shut down: a write blocked on the generator
    /// wakes and gives up (the ring's count of interruptions moved since the worker took its
    /// input); the loop then pauses in the ring.
    func interrupt() {
        switch output {
        case .channel(let channel): channel.interruptWrites()
        case .writer(let writer): writer.interruptWrites()
        case .none: break
        }
    }

    /// Flush-start, after `interrupt`: the frame written last, if it still waits for the
    /// generator, belongs to the flushed stream and is taken back (the generator would
    /// otherwise show it after the flush, stamped later than the frames that follow it).
    func withdrawWritten() {
        guard case .channel(let channel) = output else { return }
        guard let written = lastWritten.withLock({ $0 })?.identity else { return }
        channel.withdraw { $0.identity == written }
    }

    /// Flush-stop: writes may block again and the loop resumes.
    func resume() { thread.start() }

    // MARK: the worker thread

    private func iterate() {
        workerThread.store(UInt(pthread_self()), ordering: .relaxed)
        switch ring.next(interruptions: &epoch) {
        case .data(let frame):
            guard startChainIfNeeded() else { return frame.close() }
            do { try chain.process(frame) } catch { report(error) }
        case .control(.run(let work)):
            do { try work() } catch { report(error) }
        case .control(.message(let message)):
            guard startChainIfNeeded() else { return }
            do { try chain.deliver(message) } catch { report(error) }
        case .endOfStream:
            if startChainIfNeeded() {
                do { try chain.flush() } catch { report(error) }
            }
            finishOutput()
            ring.acknowledgeEnd()
        case .flushing, .shutdown:
            thread.pause()
        }
    }

    private func startChainIfNeeded() -> Bool {
        switch chainState {
        case .started: return true
        case .failed: return false
        case .notStarted: break
        }
        do {
            try chain.start()
            chainState = .started
            return true
        } catch {
            chainState = .failed
            element.postError(.library(GST_LIBRARY_ERROR_INIT), "The worker transform failed to start: \(error)",
                              debug: "start(controller:) of a transform threw; no frame will pass")
            return false
        }
    }

    private func report(_ error: any Error) {
        switch error {
        case FrameChannelError.noConsumer(let name):
            framesWithoutConsumer += 1
            if framesWithoutConsumer == 1 {
                element.postWarning(.resource(GST_RESOURCE_ERROR_NOT_FOUND), element.noGeneratorText(name),
                                    debug: "frames are dropped until a trackgenerator named \(name) is running")
            }
        case FrameChannelError.ended:
            TrackProcessorElement.category.info("generator refused a frame: \(error)", object: element)
        case let error as TrackGeneratorError:
            // The generator posted the error itself; the frame is gone.
            TrackProcessorElement.category.warning("generator refused a frame: \(error)", object: element)
        default:
            element.failedFrames.add(1, ordering: .relaxed)
            failures.report(error, element: element)
        }
    }

    /// End of stream: the generator's track ends; a channel that never had a generator is an error.
    private func finishOutput() {
        switch output {
        case .channel(let channel):
            if !wroteToConsumer && framesWithoutConsumer > 0 && !channel.hasConsumer {
                element.postError(.resource(GST_RESOURCE_ERROR_NOT_FOUND), element.noGeneratorText(channel.name),
                                  debug: "\(framesWithoutConsumer) frames were dropped: create the generator (e.g. `trackgenerator name=\(channel.name)`)")
            }
            channel.close()
        case .writer(let writer):
            writer.close()
        case .none:
            break
        }
    }

    // MARK: TransformHost

    func write(_ frame: MediaFrame) throws {
        switch output {
        case .channel(let channel):
            lastWritten.withLock { $0 = frame }
            try channel.write(frame) { ring.interruptionCount != epoch }
            wroteToConsumer = true
        case .writer(let writer):
            try writer.write(frame) { ring.interruptionCount != epoch }
        case .none:
            frame.close()
        }
    }

    var isOnWorkerThread: Bool { workerThread.load(ordering: .relaxed) == UInt(pthread_self()) }

    func schedule(_ work: @escaping @Sendable () throws -> Void) { ring.pushControl(.run(work)) }

    func post(_ message: TransformMessage) { element.deliverToApplication(message) }

    var signalElement: ElementSubclass { element }

    /// `post-message`: delivered to every transform on the worker thread, after what waits.
    func deliver(_ message: TransformMessage) -> MessageDelivery {
        MessageDelivery(ring.pushBoundedControl(.message(message)))
    }
}
