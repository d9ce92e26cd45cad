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
    /// The next stage of the chain and its controller; nil at the end (frames go to the host).
    /// Objects, not a closure: passing a frame on is a method call, without the reference
    /// counting a stored closure's context costs on every call.
    @usableFromInline let nextStage: (any StreamTransformer<Frame>)?
    @usableFromInline let nextController: StreamController<Frame>?

    package init(host: any TransformHost<Frame>, next: (stage: any StreamTransformer<Frame>, controller: StreamController<Frame>)?) {
        self.host = host
        nextStage = next?.stage
        nextController = next?.controller
    }

    /// Passes `frame` to the next transformer of the chain, or to the host at its end.
    @inlinable
    public func enqueue(_ frame: Frame) throws {
        if host.isOnWorkerThread {
            try passOn(frame)
        } else {
            schedule(frame)
        }
    }

    /// The rest of the chain, on the worker thread.
    @inlinable
    func passOn(_ frame: Frame) throws {
        if let nextStage, let nextController {
            try nextStage.transform(frame, controller: nextController)
        } else {
            try host.write(frame)
        }
    }

    /// Not inlined: in unspecialised code the `Handoff` metadata would otherwise be looked up
    /// for every frame, also on the worker thread's path (about 300 instructions per frame).
    @usableFromInline @inline(never)
    func schedule(_ frame: Frame) {
        let handoff = Handoff(frame: frame, controller: self)
        host.schedule { try handoff.controller.passOn(handoff.frame) }
    }

    /// Sends `message` to the application: the element emits its `message` signal and posts it
    /// as an element message on the bus.
    public func postMessage(_ message: TransformMessage) { host.post(message) }

    /// A frame and the rest of the chain, moved to the worker thread (which is then their only user).
    @usableFromInline
    struct Handoff: @unchecked Sendable {
        @usableFromInline let frame: Frame
        @usableFromInline let controller: StreamController<Frame>
        @inlinable init(frame: Frame, controller: StreamController<Frame>) {
            self.frame = frame
            self.controller = controller
        }
    }
}
