import CGStreamer
import EncodedStreams
import GStreamerBridge
import MediaStreams

/// The `app` transform: the application's own code on every frame, in any language with GObject
/// signals. For each frame reaching it, it emits the element's `transform-frame` signal on the
/// worker thread with the frame as a `GstSample` and passes on the sample the handler returns
/// (NULL drops the frame). `app name=NAME` emits `transform-frame::NAME`, so a chain can hold
/// several `app` steps with a handler each. With no handler connected it passes frames on.
enum AppTransform {
    static let summary = "emits transform-frame (GstSample) on the worker thread for every frame; the handler returns the frame to pass on, a new one, or NULL to drop it (no handler: identity)"
    static let parameters = [TransformParameterInfo("name", "detail of the signal: handlers connected to transform-frame::NAME get this step's frames (default: none, only handlers without detail)")]

    static func register() {
        TransformRegistry.register(TransformDescriptor(name: "app", summary: summary, parameters: parameters) { parameters, _ in
            RawAppTransformer(detail: try detail(parameters))
        })
        EncodedTransformRegistry.register(EncodedTransformDescriptor(name: "app", summary: summary, parameters: parameters) { parameters, _ in
            EncodedAppTransformer(detail: try detail(parameters))
        })
    }

    private static func detail(_ parameters: TransformParameters) throws -> String? {
        guard let name = parameters.string("name") else { return nil }
        let valid = !name.isEmpty && name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
        guard valid else {
            throw TransformSpecError("transform 'app': name=\(name) is invalid; the name is a signal detail: letters, digits, '-' and '_'")
        }
        return name
    }

    /// What the app transforms need from the worker that runs them.
    static func element(of controller: StreamController<some Any>) throws -> ElementSubclass {
        guard let host = controller.host as? ApplicationSignalHost else {
            throw TransformSpecError("the app transform runs inside trackprocessor or rtpscripttransform")
        }
        return host.signalElement
    }
}

/// A worker that can run the `app` transform: the element whose signal it emits.
protocol ApplicationSignalHost: AnyObject {
    var signalElement: ElementSubclass { get }
}

/// `transform-frame` on one element, with the detail of one `app` step. Worker thread only.
final class TransformFrameSignal {
    static let name = "transform-frame"
    private let instance: UnsafeMutableRawPointer
    private let signalID: guint
    private let detail: GQuark
    /// The last sample handed out, emptied (no buffer) and kept until the next frame's emission
    /// is over: a handler that kept it without a reference (PyGObject's wrappers of signal
    /// arguments hold none) and returns it for the next frame gets a clear refusal, not a freed
    /// object.
    private var previous: OpaquePointer?

    init(element: ElementSubclass, detail: String?) {
        instance = UnsafeMutableRawPointer(element.elementPointer)
        signalID = g_signal_lookup(Self.name, swift_type_from_instance(instance))
        self.detail = detail.map { g_quark_from_string($0) } ?? 0
    }

    deinit { if let previous { gst_sample_unref(previous) } }

    /// True when a handler would run: one connected with this step's detail, or with none
    /// (`g_signal_has_handler_pending` matches the detail exactly).
    var hasHandler: Bool {
        guard signalID != 0 else { return false }
        if g_signal_has_handler_pending(instance, signalID, 0, 0) != 0 { return true }
        return detail != 0 && g_signal_has_handler_pending(instance, signalID, detail, 0) != 0
    }

    /// Emits with `sample` (consumed) and turns what the handler returned into the output with
    /// `accept`; nil when the handler dropped the frame. Both samples are released (the sent
    /// one emptied) before the output goes on, so the next transform finds the buffer writable
    /// when nothing else shares it.
    func run<Output>(sample: OpaquePointer, frameID: UInt64, accept: (OpaquePointer) throws -> Output) throws -> Output? {
        let returned = swift_signal_emit_sample(instance, signalID, detail, sample)
        if let previous { gst_sample_unref(previous) }
        previous = nil
        defer {
            if let returned { gst_sample_unref(returned) }
            if gst_mini_object_is_writable(UnsafeMutableRawPointer(sample).assumingMemoryBound(to: GstMiniObject.self)) != 0 {
                gst_sample_set_buffer(sample, nil)
                previous = sample
            } else {
                gst_sample_unref(sample)  // the handler holds a reference of its own
            }
        }
        guard let returned else { return nil }
        try Self.checkIdentity(returned, sent: sample, frameID: frameID)
        return try accept(returned)
    }

    /// A sample handed out for an earlier frame cannot come back: frames pass once, in order.
    static func checkIdentity(_ returned: OpaquePointer, sent: OpaquePointer, frameID: UInt64) throws {
        guard returned != sent, let returnedID = FrameSample.frameID(of: returned), returnedID != frameID else { return }
        throw FrameSampleError("transform-frame returned frame \(returnedID) while handling frame \(frameID): a handler returns the frame it was given (or a new sample), never an earlier one; dropped so that no frame passes twice or out of order")
    }

    /// The signal's declaration, the same on every element that runs transforms.
    static func declaration<Element: ElementSubclass>(_ element: Element.Type) -> ElementSignal<Element> {
        .emitted(name, parameters: [swift_type_static_scope(swift_type_sample())], returns: swift_type_sample(), detailed: true,
                 marshaller: .sampleFromSample)
    }
}

/// `app` on raw frames (`trackprocessor`).
final class RawAppTransformer: FrameTransformer {
    private let detail: String?
    private var signal: TransformFrameSignal?
    private let caps = RawSampleCaps()
    private var frameCount: UInt64 = 0

    init(detail: String?) { self.detail = detail }

    func start(controller: TransformController) throws {
        signal = TransformFrameSignal(element: try AppTransform.element(of: controller), detail: detail)
    }

    func transform(_ frame: MediaFrame, controller: TransformController) throws {
        guard let signal, signal.hasHandler else { return try controller.enqueue(frame) }
        frameCount += 1
        let shape = frame.shape
        let sentCaps = caps.caps(for: shape.media)
        guard let sample = frame.moveIntoSample(frameID: frameCount, caps: sentCaps) else { throw MediaFrameError.closed("VideoFrame") }
        let output = try signal.run(sample: sample, frameID: frameCount) { returned in
            try MediaFrame.from(sample: returned, original: shape, sentCaps: sentCaps)
        }
        if let output { try controller.enqueue(output) }
    }
}

/// `app` on encoded frames (`rtpscripttransform`).
final class EncodedAppTransformer: EncodedFrameTransformer {
    private let detail: String?
    private var signal: TransformFrameSignal?
    /// The worker running the chain (it outlives its transformers): caps, side and rid of the frames.
    private unowned(unsafe) var host: ScriptWorker?

    init(detail: String?) { self.detail = detail }

    func start(controller: EncodedTransformController) throws {
        signal = TransformFrameSignal(element: try AppTransform.element(of: controller), detail: detail)
        host = controller.host as? ScriptWorker
    }

    func transform(_ frame: EncodedFrame, controller: EncodedTransformController) throws {
        guard let signal, let host, signal.hasHandler else { return try controller.enqueue(frame) }
        guard let sample = frame.moveIntoSample(caps: host.currentCaps, side: host.side, rid: host.rid) else {
            throw MediaFrameError.closed("\(type(of: frame))")
        }
        let restored = try signal.run(sample: sample, frameID: frame.sampleFrameID) { returned in
            try frame.restore(from: returned, sent: sample)
            return true
        }
        if restored == true { try controller.enqueue(frame) }
    }
}
