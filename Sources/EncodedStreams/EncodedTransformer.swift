import MediaStreams

/// A transform over encoded frames: the worker side of `RTCRtpScriptTransform`, shaped like
/// the transformer of a web `TransformStream`. `start` runs once before the first frame,
/// `transform` once per frame (call `controller.enqueue` to pass it on, or don't to drop it),
/// `flush` at the end of the stream.
///
/// Every method runs on the element's dedicated worker thread, one call at a time, so a
/// transformer may keep plain mutable state. A transformer that throws from `transform` loses
/// that frame only: the element posts a warning and the stream continues.
public protocol EncodedFrameTransformer: AnyObject {
    func start(controller: EncodedTransformController) throws
    func transform(_ frame: EncodedFrame, controller: EncodedTransformController) throws
    func flush(controller: EncodedTransformController) throws
    /// A message from the application (the element's `post-message` action signal): the
    /// MessagePort of the web API. Keys reach an encryption transform this way.
    func receive(message: TransformMessage, controller: EncodedTransformController) throws
    /// `keyframerequest`: the remote receiver asked for a key frame (RTCP PLI/FIR), send side
    /// only. Call `request.cancel()` to keep the request from reaching the encoder.
    func keyFrameRequested(_ request: KeyFrameRequest, controller: EncodedTransformController)
    /// Codecs this transformer can process; nil for any. The element refuses other caps.
    var supportedCodecs: Set<EncodedCodec>? { get }
}

extension EncodedFrameTransformer {
    public func start(controller: EncodedTransformController) throws {}
    public func flush(controller: EncodedTransformController) throws {}
    public func receive(message: TransformMessage, controller: EncodedTransformController) throws {}
    public func keyFrameRequested(_ request: KeyFrameRequest, controller: EncodedTransformController) {}
    public var supportedCodecs: Set<EncodedCodec>? { nil }
}

/// A key frame request (`keyframerequest` event), cancelable.
public final class KeyFrameRequest: @unchecked Sendable {
    /// The request asked for codec headers too (RTCP FIR rather than PLI).
    public let allHeaders: Bool
    public private(set) var isCancelled = false
    package init(allHeaders: Bool) { self.allHeaders = allHeaders }
    /// `preventDefault()`: the element will not forward the request to the encoder.
    public func cancel() { isCancelled = true }
}

/// Errors of the controller's methods, named like the DOMExceptions of the web API.
public enum EncodedTransformError: Error, CustomStringConvertible, Equatable {
    /// InvalidStateError: e.g. generateKeyFrame on a receiver.
    case invalidState(String)
    /// TypeError: e.g. a malformed rid.
    case invalidArgument(String)
    /// NotFoundError: e.g. no layer with that rid.
    case notFound(String)

    public var description: String {
        switch self {
        case .invalidState(let why): "InvalidStateError: \(why)"
        case .invalidArgument(let why): "TypeError: \(why)"
        case .notFound(let why): "NotFoundError: \(why)"
        }
    }
}

/// What the element provides to the transformers it runs.
package protocol EncodedTransformHost: AnyObject {
    var side: TransformSide { get }
    var options: TransformMessage { get }
    var currentCodec: EncodedCodec? { get }
    /// Called on the worker thread only.
    func write(_ frame: EncodedFrame) throws
    var isOnWorkerThread: Bool { get }
    /// Runs `work` on the worker thread, after what it is doing now.
    func schedule(_ work: @escaping @Sendable () throws -> Void)
    func post(_ message: TransformMessage)
    func generateKeyFrame(rid: String?, completion: (@Sendable (Result<Int64?, EncodedTransformError>) -> Void)?) throws
    func sendKeyFrameRequest() throws
}

/// What a transformer is given: `RTCRtpScriptTransformer`'s methods plus the stream
/// controller's `enqueue`. Every method may be called from any thread.
public final class EncodedTransformController: @unchecked Sendable {
    private unowned let host: any EncodedTransformHost
    private let downstream: (EncodedFrame) throws -> Void

    package init(host: any EncodedTransformHost, downstream: @escaping (EncodedFrame) throws -> Void) {
        self.host = host
        self.downstream = downstream
    }

    /// The element's `options` (the RTCRtpScriptTransform constructor's options).
    public var options: TransformMessage { host.options }

    /// Send or receive side (detected from the element's neighbours, or its `side` property).
    public var side: TransformSide { host.side }

    /// The codec of the current caps, once they are known.
    public var codec: EncodedCodec? { host.currentCodec }

    /// Passes `frame` on: to the next transform of the chain, or downstream. Frames must be
    /// enqueued in the order they were read and at most once: the element drops (and counts)
    /// a frame older than the last one it pushed. Callable from another thread too; the
    /// element then pushes it from its worker thread.
    public func enqueue(_ frame: EncodedFrame) throws {
        if host.isOnWorkerThread {
            try downstream(frame)
        } else {
            let handoff = Handoff(frame: frame, downstream: downstream)
            host.schedule { try handoff.downstream(handoff.frame) }
        }
    }

    /// A frame and the rest of the chain, moved to the worker thread.
    private struct Handoff: @unchecked Sendable {
        let frame: EncodedFrame
        let downstream: (EncodedFrame) throws -> Void
    }

    /// Sends `message` to the application: the element emits its `message` signal and posts it
    /// as an element message on the bus.
    public func postMessage(_ message: TransformMessage) { host.post(message) }

    /// `generateKeyFrame(rid)`: asks the encoder upstream for a key frame. `completion` runs on
    /// the worker thread just before that key frame is handed to `transform`, with its
    /// timestamp (µs). Throws InvalidStateError on the receive side or for audio, TypeError for
    /// a malformed rid, NotFoundError when no layer has that rid.
    public func generateKeyFrame(rid: String? = nil,
                                 completion: (@Sendable (Result<Int64?, EncodedTransformError>) -> Void)? = nil) throws {
        try host.generateKeyFrame(rid: rid, completion: completion)
    }

    /// `sendKeyFrameRequest()`: asks the remote sender for a key frame (RTCP PLI/FIR).
    /// Throws InvalidStateError on the send side or for audio.
    public func sendKeyFrameRequest() throws { try host.sendKeyFrameRequest() }
}

/// Transformers connected in sequence (`worker="negate ! identity"`), ending at the host.
package final class EncodedTransformChain {
    package let stages: [EncodedFrameTransformer]
    private var controllers: [EncodedTransformController] = []
    private var entry: (EncodedFrame) throws -> Void = { _ in }

    package init(stages: [EncodedFrameTransformer], host: any EncodedTransformHost) {
        self.stages = stages
        var next: (EncodedFrame) throws -> Void = { [unowned host] frame in try host.write(frame) }
        var built: [EncodedTransformController] = []
        for stage in stages.reversed() {
            let controller = EncodedTransformController(host: host, downstream: next)
            built.append(controller)
            next = { [unowned stage, unowned controller] frame in try stage.transform(frame, controller: controller) }
        }
        controllers = built.reversed()
        entry = next
    }

    package func start() throws {
        for (stage, controller) in zip(stages, controllers) { try stage.start(controller: controller) }
    }

    package func process(_ frame: EncodedFrame) throws { try entry(frame) }

    /// Each stage flushes in order, so what a stage emits on flush passes the later stages.
    package func flush() throws {
        for (stage, controller) in zip(stages, controllers) { try stage.flush(controller: controller) }
    }

    /// Every stage receives the message.
    package func deliver(_ message: TransformMessage) throws {
        for (stage, controller) in zip(stages, controllers) { try stage.receive(message: message, controller: controller) }
    }

    /// Every stage sees the request; any of them may cancel it.
    package func keyFrameRequested(_ request: KeyFrameRequest) {
        for (stage, controller) in zip(stages, controllers) { stage.keyFrameRequested(request, controller: controller) }
    }

    package var supportedCodecs: Set<EncodedCodec>? {
        stages.compactMap(\.supportedCodecs).reduce(nil) { result, codecs in result.map { $0.intersection(codecs) } ?? codecs }
    }
}
