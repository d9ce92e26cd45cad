import CGStreamer
import GStreamerBridge
import MediaStreams
import Synchronization

/// The dedicated worker thread of one `trackprocessor`: takes frames from the ring, runs them
/// through the transform chain and writes the results to the generator (or drops them when
/// nothing is piped). Never runs on the upstream streaming thread.
final class ProcessorWorker: @unchecked Sendable {
    /// Everything here is touched by the worker thread only, after `start()`.
    private let chain: TransformChain
    private var chainStarted = false
    private let ring: FrameRing
    private let writer: FrameWriter?
    private unowned let element: TrackProcessorElement
    private let stopping = StopFlag()
    private var task: WorkerTask?
    private let failures = FailureReporter()

    init(element: TrackProcessorElement, ring: FrameRing, transformers: [FrameTransformer], writer: FrameWriter?) {
        self.element = element
        self.ring = ring
        self.writer = writer
        let stopping = self.stopping
        chain = TransformChain(stages: transformers) { frame in
            if let writer {
                try writer.write(frame, cancelled: { stopping.isSet })
            } else {
                frame.close()
            }
        }
    }

    var supportedVideoFormats: Set<VideoPixelFormat>? { chain.supportedVideoFormats }
    var supportedKinds: Set<TrackKind> { chain.supportedKinds }

    func start() {
        stopping.isSet = false
        if task == nil {
            task = WorkerTask(name: "\(element.name):worker") { [unowned self] in self.iterate() }
        }
        task?.start()
    }

    /// Joins the thread. The ring must be shut down already, so the loop returns promptly.
    func stop() {
        stopping.isSet = true
        task?.stop()
    }

    /// Flush-start: interrupt a write blocked on the generator; the loop then waits in the ring.
    func interrupt() { stopping.isSet = true }

    /// Flush-stop: writes may block again.
    func resume() { stopping.isSet = false }

    private func iterate() {
        switch ring.next() {
        case .frame(let frame):
            guard startChainIfNeeded() else {
                frame.close()
                return
            }
            do {
                try chain.process(frame)
            } catch let error as TrackGeneratorError {
                // The generator posted the error itself; the frame is gone.
                TrackProcessorElement.category.warning("generator refused a frame: \(error)", object: element)
            } catch {
                failures.report(error, element: element)
            }
        case .endOfStream:
            if startChainIfNeeded() {
                do { try chain.flush() } catch { failures.report(error, element: element) }
            }
            writer?.close()
            ring.markConsumed()
        case .shutdown:
            // stop() follows at once; do not spin meanwhile.
            g_usleep(1000)
        }
    }

    private func startChainIfNeeded() -> Bool {
        if chainStarted { return true }
        do {
            try chain.start()
            chainStarted = true
            return true
        } catch {
            element.postError(.library(GST_LIBRARY_ERROR_INIT), "The worker transform failed to start: \(error)",
                              debug: "start(controller:) of a transform threw")
            return false
        }
    }
}
