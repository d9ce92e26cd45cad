/// What runs a chain of transformers: an element's worker. The chain's last controller writes
/// into it, and every controller reaches the application through it.
public protocol TransformHost<Frame>: AnyObject, Sendable {
    associatedtype Frame
    /// The end of the chain: hands a frame to whatever follows the transforms. Worker thread only.
    func write(_ frame: Frame) throws
    /// True on the worker thread that runs the chain.
    var isOnWorkerThread: Bool { get }
    /// Runs `work` on the worker thread, after what it is doing now.
    func schedule(_ work: @escaping @Sendable () throws -> Void)
    /// A message for the application (the element's `message` signal and bus).
    func post(_ message: TransformMessage)
}

/// `TransformStreamDefaultController` plus the worker's MessagePort: what a transformer is
/// given. `enqueue` may be called from any thread: from another thread the frame (and the rest
/// of the chain) is moved to the worker thread, after what the worker is doing.
public final class StreamController<Frame>: @unchecked Sendable {
    /// The host; it outlives every controller of its chain (the element stops its worker first).
    public unowned(unsafe) let host: any TransformHost<Frame>
    @usableFromInline let downstream: (Frame) throws -> Void

    package init(host: any TransformHost<Frame>, downstream: @escaping (Frame) throws -> Void) {
        self.host = host
        self.downstream = downstream
    }

    /// Passes `frame` to the next transformer of the chain, or to the host at its end.
    @inlinable
    public func enqueue(_ frame: Frame) throws {
        if host.isOnWorkerThread {
            try downstream(frame)
        } else {
            schedule(frame)
        }
    }

    /// Not inlined: in unspecialised code the `Handoff` metadata would otherwise be looked up
    /// for every frame, also on the worker thread's path (about 300 instructions per frame).
    @usableFromInline @inline(never)
    func schedule(_ frame: Frame) {
        let handoff = Handoff(frame: frame, downstream: downstream)
        host.schedule { try handoff.downstream(handoff.frame) }
    }

    /// Sends `message` to the application: the element emits its `message` signal and posts it
    /// as an element message on the bus.
    public func postMessage(_ message: TransformMessage) { host.post(message) }

    /// A frame and the rest of the chain, moved to the worker thread (which is then their only user).
    @usableFromInline
    struct Handoff: @unchecked Sendable {
        @usableFromInline let frame: Frame
        @usableFromInline let downstream: (Frame) throws -> Void
        @inlinable init(frame: Frame, downstream: @escaping (Frame) throws -> Void) {
            self.frame = frame
            self.downstream = downstream
        }
    }
}
