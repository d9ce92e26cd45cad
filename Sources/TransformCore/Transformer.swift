/// A transform over frames of one type, written like the transformer of a web `TransformStream`
/// running in a worker: `start` once before the first frame, `transform` once per frame (call
/// `controller.enqueue` to pass a frame on, zero, one or several times; not calling it drops
/// the frame), `flush` at the end of the stream, and `receive(message:)` for what the
/// application posts (the worker's MessagePort).
///
/// Every method runs on the element's worker thread, one call at a time, so a transformer may
/// keep plain mutable state. A transformer that throws loses that frame only: the element
/// reports it and the stream continues.
///
/// Raw frames (`MediaFrame`) and encoded frames (`EncodedFrame`) use this one protocol through
/// `FrameTransformer` and `EncodedFrameTransformer`, which fix `Frame` and add what only that
/// kind of frame has (accepted formats, codecs, key frame requests).
public protocol StreamTransformer<Frame>: AnyObject {
    associatedtype Frame
    func start(controller: StreamController<Frame>) throws
    func transform(_ frame: Frame, controller: StreamController<Frame>) throws
    func flush(controller: StreamController<Frame>) throws
    /// A message from the application (the element's `post-message` action signal).
    func receive(message: TransformMessage, controller: StreamController<Frame>) throws
}

extension StreamTransformer {
    public func start(controller: StreamController<Frame>) throws {}
    public func flush(controller: StreamController<Frame>) throws {}
    public func receive(message: TransformMessage, controller: StreamController<Frame>) throws {}
}

/// Passes every frame on unchanged: the one identity, for every frame type.
public final class IdentityTransformer<Frame>: StreamTransformer {
    public init() {}
    public func transform(_ frame: Frame, controller: StreamController<Frame>) throws { try controller.enqueue(frame) }
}
