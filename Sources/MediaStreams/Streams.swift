@_exported import Handoff

/// A processor's ring of frames: `max-buffer-size` frames, dropping the oldest when full
/// (upstream never waits), plus work and messages for the worker thread, served first.
public typealias FrameRing = HandoffQueue<MediaFrame, WorkerControl>

/// A control item of a worker's queue.
public enum WorkerControl: @unchecked Sendable {
    /// Work moved to the worker thread (a frame enqueued from another thread).
    case run(@Sendable () throws -> Void)
    /// A message from the application for the transforms.
    case message(TransformMessage)
}

extension HandoffQueue where Data == MediaFrame, Control == WorkerControl {
    /// A ring of `capacity` frames that drops (and closes) the oldest when full. Flushing keeps
    /// application messages.
    public static func ring(capacity: Int) -> FrameRing {
        FrameRing(policy: .dropOldest, capacity: capacity, handlers: .init(
            discardData: { $0.close() },
            keepsOnFlush: { if case .message = $0 { true } else { false } }))
    }
}

/// Where a transform chain's output goes: a generator's writable (WritableStream of frames).
/// Called on the producing element's worker thread; `write` may block for back-pressure.
public protocol FrameWriter: AnyObject, Sendable {
    /// Hands `frame` over (the writer owns it afterwards, also when it drops it). Throws when
    /// the frame cannot be accepted (wrong kind, track ended). While waiting for room the writer
    /// re-checks `cancelled` whenever `interruptWrites()` is called, and gives up (dropping the
    /// frame) once it returns true.
    func write(_ frame: MediaFrame, cancelled: () -> Bool) throws
    /// Wakes writes waiting for room so that they re-check their `cancelled` condition.
    func interruptWrites()
    /// Ends the track normally (EOS downstream).
    func close()
    /// Ends the track with an error.
    func abort(reason: String)
}

extension FrameWriter {
    public func write(_ frame: MediaFrame) throws { try write(frame, cancelled: { false }) }
}

/// A processor's readable as an `AsyncSequence` of frames, for Swift code that consumes frames
/// itself instead of naming a `worker`. Ends at end of stream.
public struct ReadableFrameStream: AsyncSequence, Sendable {
    public typealias Element = MediaFrame
    let ring: FrameRing

    public init(ring: FrameRing) { self.ring = ring }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let ring: FrameRing
        public mutating func next() async -> MediaFrame? { await ring.nextAsync() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(ring: ring) }
}
