@_exported import TransformCore
import MediaStreams

/// A transform over encoded frames: the worker side of `RTCRtpScriptTransform`. A
/// `StreamTransformer` of `EncodedFrame` (start, transform, flush, receive(message:)) plus what
/// only encoded frames have: key frame requests from the remote end and the codecs it accepts.
///
/// Every method runs on the element's dedicated worker thread, one call at a time, so a
/// transformer may keep plain mutable state. A transformer that throws from `transform` loses
/// that frame only: the element posts a warning and the stream continues.
public protocol EncodedFrameTransformer: StreamTransformer where Frame == EncodedFrame {
    /// `keyframerequest`: the remote receiver asked for a key frame (RTCP PLI/FIR), send side
    /// only. Call `request.cancel()` to keep the request from reaching the encoder.
    func keyFrameRequested(_ request: KeyFrameRequest, controller: EncodedTransformController)
    /// Codecs this transformer can process; nil for any. The element refuses other caps.
    var supportedCodecs: Set<EncodedCodec>? { get }
}

extension EncodedFrameTransformer {
    public func keyFrameRequested(_ request: KeyFrameRequest, controller: EncodedTransformController) {}
    public var supportedCodecs: Set<EncodedCodec>? { nil }
}

/// What a transformer of encoded frames is given: `RTCRtpScriptTransformer`'s methods plus the
/// stream controller's `enqueue`. Every method may be called from any thread.
public typealias EncodedTransformController = StreamController<EncodedFrame>
/// The encoded transforms `rtpscripttransform`'s `worker` can name.
public typealias EncodedTransformRegistry = TransformCatalog<EncodedFrame>
/// An encoded transform `worker` can name.
public typealias EncodedTransformDescriptor = RegisteredTransform<EncodedFrame>
/// What an encoded transform's factory may use besides its parameters (the same for every frame type).
public typealias EncodedTransformContext = TransformContext

extension EncodedFrame: TransformableFrame {
    public static var transformNoun: String { "encoded transform" }
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

/// What `rtpscripttransform`'s worker provides besides the generic host.
package protocol EncodedTransformHost: TransformHost where Frame == EncodedFrame {
    var side: TransformSide { get }
    var options: TransformMessage { get }
    var currentCodec: EncodedCodec? { get }
    /// The element's `rid` (RFC 8851 restriction identifier), nil when it has none.
    var rid: String? { get }
    func generateKeyFrame(rid: String?, completion: (@Sendable (Result<Int64?, EncodedTransformError>) -> Void)?) throws
    func sendKeyFrameRequest() throws
}

extension StreamController where Frame == EncodedFrame {
    private var encodedHost: any EncodedTransformHost {
        guard let host = host as? any EncodedTransformHost else {
            preconditionFailure("an encoded transform runs inside rtpscripttransform's worker")
        }
        return host
    }

    /// The element's `options` (the RTCRtpScriptTransform constructor's options).
    public var options: TransformMessage { encodedHost.options }

    /// Send or receive side (detected from the element's neighbours, or its `side` property).
    public var side: TransformSide { encodedHost.side }

    /// The element's rid, nil when it has none.
    package var rid: String? { encodedHost.rid }

    /// The codec of the current caps, once they are known.
    public var codec: EncodedCodec? { encodedHost.currentCodec }

    /// `generateKeyFrame(rid)`: asks the encoder upstream for a key frame. `completion` runs on
    /// the worker thread just before that key frame is handed to `transform`, with its
    /// timestamp (µs). Throws InvalidStateError on the receive side or for audio, TypeError for
    /// a malformed rid, NotFoundError when no layer has that rid.
    public func generateKeyFrame(rid: String? = nil,
                                 completion: (@Sendable (Result<Int64?, EncodedTransformError>) -> Void)? = nil) throws {
        try encodedHost.generateKeyFrame(rid: rid, completion: completion)
    }

    /// `sendKeyFrameRequest()`: asks the remote sender for a key frame (RTCP PLI/FIR).
    /// Throws InvalidStateError on the send side or for audio.
    public func sendKeyFrameRequest() throws { try encodedHost.sendKeyFrameRequest() }
}

extension TransformChain where Frame == EncodedFrame {
    /// Every stage sees the request; any of them may cancel it.
    package func keyFrameRequested(_ request: KeyFrameRequest) {
        forEachStage { stage, controller in
            (stage as? any EncodedFrameTransformer)?.keyFrameRequested(request, controller: controller)
        }
    }

    package var supportedCodecs: Set<EncodedCodec>? {
        intersection { ($0 as? any EncodedFrameTransformer)?.supportedCodecs }
    }
}
