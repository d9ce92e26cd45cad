import CGStreamer
import EncodedStreams
import GStreamerBridge
import Synchronization

/// `rtpscripttransform`: RTCRtpScriptTransform as a GStreamer element.
///
/// Sits between encoder and payloader (send side) or depayloader and decoder (receive side).
/// Every encoded frame becomes an `EncodedVideoFrame`/`EncodedAudioFrame` handed to the
/// transform named by `worker` on the element's own worker thread (its src pad's task, one
/// thread hop as with `queue`); what the transform enqueues is pushed downstream, in order and
/// never twice. The application talks to the transform with the `post-message` action signal
/// and hears back through the `message` signal and element messages; key frames are asked for
/// with `generate-key-frame` (send side) and `send-key-frame-request` (receive side), and
/// incoming PLI/FIR reach the transform as key frame requests it may cancel.
final class RtpScriptTransformElement: ElementSubclass, HasSettings, TransformMessaging, @unchecked Sendable {
    static let category = DebugCategory("rtpscripttransform", description: "Swift RTCRtpScriptTransform element")


    override class var typeName: String { "GstRtpScriptTransform" }
    override class var metadata: ElementMetadata {
        ElementMetadata(
            longName: "RTP script transform (RTCRtpScriptTransform)",
            classification: "Filter/Network/RTP",
            description: "Runs a Swift transform on every encoded frame between encoder and payloader (send) or depayloader and decoder (receive), on a dedicated worker thread; the WebRTC Encoded Transform API, e.g. for end-to-end encryption",
            author: "gst-insertable-streams developers")
    }
    override class var padTemplates: [PadTemplateSpec] {
        let caps = EncodedCodec.capsString(EncodedCodec.allCases)
        return [PadTemplateSpec(name: "sink", direction: GST_PAD_SINK, caps: caps),
                PadTemplateSpec(name: "src", direction: GST_PAD_SRC, caps: caps)]
    }
    enum Side: String, PropertyEnum {
        case auto, send, receive
        static var gTypeName: String { "GstRtpScriptTransformSide" }
        var summary: String { "GST_RTP_SCRIPT_TRANSFORM_SIDE_\(rawValue.uppercased())" }
    }
    struct Settings: ElementSettings {
        var worker: String?
        var options: String?
        var side = Side.auto
        var rid: String?
        var maxPendingFrames: UInt32 = 60
    }
    override class var properties: [PropertyDeclaration] {
        [ElementProperty<RtpScriptTransformElement>]([
            .string("worker", nick: "Worker transform",
                    blurb: "Encoded transform run on every frame on the element's worker thread: transforms separated by '!', each with key=value parameters, e.g. \"negate\", \"negate clear=none\", \"sframe suite=AES_128_GCM_SHA256_128\". Known (parameters): \(EncodedTransformRegistry.parameterListing). Unset: identity.\(EncodedTransformRegistry.problemsSentence) Transform modules are loaded from GST_INSERTABLE_STREAMS_MODULE_PATH",
                    \.worker),
            .structure("options", nick: "Options",
                       blurb: "Handed to the transform unchanged, like the options of new RTCRtpScriptTransform(worker, options), e.g. \"options,name=senderTransform\". sframe reads its keys here: key=(string)<hex base key, 16+ bytes>, key-id=(guint64)N, and for receivers keys=\"<id>:<hex>,...\"",
                       \.options),
            .enumeration("side", nick: "Side",
                         blurb: "Send side (between encoder and payloader) or receive side (between depayloader and decoder); auto tells it from the neighbouring elements (an encoder or depayloader upstream, a payloader or decoder downstream) and assumes send when they do not say",
                         \.side),
            .string("rid", nick: "RID",
                    blurb: "RTP stream id (RFC 8851) of the encoding this element carries, the layer generate-key-frame's rid names; unset: a single layer without rid",
                    \.rid),
            .uint("max-pending-frames", nick: "Max pending frames",
                  blurb: "Frames waiting for the worker before upstream blocks (encoded frames are never dropped for lack of room)",
                  range: 1...10000, \.maxPendingFrames),
            .counter("total-frames", nick: "Total frames", blurb: "Frames handed to the transform since the element started") { $0.counters.total.load(ordering: .relaxed) },
            .counter("written-frames", nick: "Written frames", blurb: "Frames the transform enqueued that were pushed downstream") { $0.counters.written.load(ordering: .relaxed) },
            .counter("rejected-frames", nick: "Rejected frames", blurb: "Frames the transform enqueued out of order, twice, or from another element: dropped, as the spec requires") { $0.counters.rejected.load(ordering: .relaxed) },
            .counter("failed-frames", nick: "Failed frames", blurb: "Frames dropped because the transform threw (a warning is posted at most once a second)") { $0.counters.failed.load(ordering: .relaxed) },
            .counter("key-frame-requests", nick: "Key frame requests", blurb: "Key frame requests (RTCP PLI/FIR, as upstream force-key-unit events) that arrived from downstream on the send side") {
                $0.counters.keyFrameRequests.load(ordering: .relaxed)
            },
        ]).map(\.declaration)
    }
    override class var signals: [SignalDeclaration] {
        [ElementSignal<RtpScriptTransformElement>]([
            // post-message(GstStructure): delivers a message to the running transform.
            .action("post-message", structure: { $0.postMessage($1) }),
            // generate-key-frame(rid or NULL) -> gboolean: send side; asks the encoder for a key frame.
            .action("generate-key-frame", string: { $0.generateKeyFrame(rid: $1) }),
            // send-key-frame-request() -> gboolean: receive side; asks the remote sender (PLI/FIR).
            .action("send-key-frame-request", returningBool: { $0.sendKeyFrameRequest() }),
            // message(GstStructure): a message the transform posted.
            .emitted("message", parameters: [swift_type_structure()]),
            // transform-frame::NAME(GstSample) -> GstSample: the app transform's frames (worker thread).
            TransformFrameSignal.declaration(RtpScriptTransformElement.self),
            // post-worker-message(GstStructure): a transform-frame handler's postMessage.
            .action("post-worker-message", structure: { $0.postWorkerMessage($1) }),
        ]).map(\.declaration)
    }

    let settings = SettingsStore(Settings())
    /// The running worker's counters (kept after it stops, for reading).
    private let countersOfRun = Mutex(ScriptWorker.Counters())
    private var counters: ScriptWorker.Counters { countersOfRun.withLock { $0 } }
    private let running = Mutex<ScriptWorker?>(nil)
    private var sinkPad: UnsafeMutablePointer<GstPad>!
    private var srcPad: UnsafeMutablePointer<GstPad>!

    required init(element: UnsafeMutablePointer<GstElement>) {
        super.init(element: element)
        sinkPad = addPad(fromTemplate: "sink")
        srcPad = addPad(fromTemplate: "src")
        // Caps, accept-caps and allocation queries are answered by the neighbours.
        let proxy = GstPadFlags(rawValue: GST_PAD_FLAG_PROXY_CAPS.rawValue | GST_PAD_FLAG_PROXY_ALLOCATION.rawValue)
        swift_pad_set_flags(sinkPad, proxy)
        swift_pad_set_flags(srcPad, proxy)
    }

    private var worker: ScriptWorker? { running.withLock { $0 } }

    // MARK: action signals

    // MARK: messages (TransformMessaging)

    func deliverToTransforms(_ message: TransformMessage) -> MessageDelivery {
        guard let worker else { return .notRunning }
        return worker.deliver(message)
    }

    var whenTransformsRun: String {
        "messages reach the transform between the PAUSED and READY states; set options for what it needs at start"
    }

    // MARK: key frames

    private func generateKeyFrame(rid: String?) -> Bool {
        requestKeyFrame(signal: "generate-key-frame") { worker in
            try worker.generateKeyFrame(rid: rid) { [weak self] result in
                guard let self, case .success(let timestamp) = result else { return }
                self.postElementMessage("key-frame-generated, timestamp=(gint64)\(timestamp ?? -1)")
            }
        }
    }

    private func sendKeyFrameRequest() -> Bool {
        requestKeyFrame(signal: "send-key-frame-request") { try $0.sendKeyFrameRequest() }
    }

    /// Runs a key frame action; a failure becomes a warning message that says why.
    private func requestKeyFrame(signal: String, _ body: (ScriptWorker) throws -> Void) -> Bool {
        guard let worker else {
            postWarning(.core(GST_CORE_ERROR_STATE_CHANGE), "\(signal) failed: the element is not running",
                        debug: "key frames can be asked for in the PAUSED and PLAYING states")
            return false
        }
        do {
            try body(worker)
            return true
        } catch {
            postWarning(.core(GST_CORE_ERROR_FAILED), "\(signal) failed: \(error)", debug: nil)
            return false
        }
    }

    // MARK: state

    override func changeState(_ transition: GstStateChange) -> GstStateChangeReturn {
        if transition == GST_STATE_CHANGE_READY_TO_PAUSED {
            guard let worker = makeWorker() else { return GST_STATE_CHANGE_FAILURE }
            running.withLock { $0 = worker }
        }
        if transition == GST_STATE_CHANGE_PAUSED_TO_READY, let worker {
            worker.setFlushing(true)
            worker.stopThread()
        }
        let result = super.changeState(transition)
        if transition == GST_STATE_CHANGE_READY_TO_PAUSED {
            if result == GST_STATE_CHANGE_FAILURE {
                running.withLock { $0 = nil }
            } else if let worker {
                worker.setFlushing(false)
                worker.startThread()
            }
        }
        if transition == GST_STATE_CHANGE_PAUSED_TO_READY {
            running.withLock { $0 = nil }
        }
        return result
    }

    private func makeWorker() -> ScriptWorker? {
        let settings = self.settings.value
        var options = TransformMessage("options")
        if let text = settings.options {
            do {
                options = try TransformMessage(parsing: text)
            } catch {
                postError(.resource(GST_RESOURCE_ERROR_SETTINGS), "Invalid options: \(error)", debug: nil)
                return nil
            }
        }
        let transformers: [any StreamTransformer<EncodedFrame>]
        let description = settings.worker?.trimmingCharacters(in: " \t\n") ?? ""
        do {
            transformers = try EncodedTransformRegistry.makeTransformers(
                description.isEmpty ? "identity" : description, context: EncodedTransformContext(elementName: name, options: options))
        } catch {
            postError(.resource(GST_RESOURCE_ERROR_SETTINGS), "Invalid worker \"\(SecretRedaction.redactingWorker(description))\": \(error)",
                      debug: "the worker property could not be parsed into encoded transforms")
            return nil
        }
        let side: TransformSide
        switch settings.side {
        case .send: side = .send
        case .receive: side = .receive
        case .auto:
            if let (detected, reason) = Neighbours.side(sinkPad: sinkPad, srcPad: srcPad) {
                side = detected
                Self.category.info("\(detected.rawValue) side: \(reason)", object: self)
            } else {
                side = .send
                Self.category.warning("no encoder, payloader, depayloader or decoder next to this element: assuming the send side (set side=send or side=receive)", object: self)
            }
        }
        let counters = ScriptWorker.Counters()
        countersOfRun.withLock { $0 = counters }
        let worker = ScriptWorker(element: self, sinkPad: sinkPad, srcPad: srcPad, side: side, options: options,
                                  rid: settings.rid, capacity: Int(settings.maxPendingFrames),
                                  transformers: transformers, counters: counters)
        Self.category.info("started: worker \"\(SecretRedaction.redactingWorker(description))\", \(side.rawValue) side, RTP details from \(worker.neighbourName ?? "nothing")", object: self)
        return worker
    }

    // MARK: data flow

    override func chain(pad: UnsafeMutablePointer<GstPad>, buffer: UnsafeMutablePointer<GstBuffer>) -> GstFlowReturn {
        guard let worker else {
            gst_buffer_unref(buffer)
            return swift_flow_flushing()
        }
        return worker.submit(buffer)
    }

    override func event(pad: UnsafeMutablePointer<GstPad>, event: UnsafeMutablePointer<GstEvent>) -> Bool {
        guard let worker else { return super.event(pad: pad, event: event) }
        if pad == srcPad {
            var allHeaders: gboolean = 0
            if worker.side == .send, gst_video_event_is_force_key_unit(event) != 0,
               gst_video_event_parse_upstream_force_key_unit(event, nil, &allHeaders, nil) != 0 {
                worker.keyFrameRequested(event, allHeaders: allHeaders != 0)
                return true
            }
            return super.event(pad: pad, event: event)
        }
        switch swift_event_type(event) {
        case GST_EVENT_FLUSH_START:
            worker.setFlushing(true)
            let forwarded = gst_pad_push_event(srcPad, event) != 0
            worker.pauseThread()
            return forwarded
        case GST_EVENT_FLUSH_STOP:
            worker.setFlushing(false)
            let forwarded = gst_pad_push_event(srcPad, event) != 0
            worker.startThread()
            return forwarded
        case GST_EVENT_CAPS:
            var caps: UnsafeMutablePointer<GstCaps>?
            gst_event_parse_caps(event, &caps)
            guard let caps, let (codec, _, _) = Self.codec(of: caps) else {
                Self.category.warning("refusing caps \(describeCaps(caps))", object: self)
                gst_event_unref(event)
                return false
            }
            if let supported = worker.supportedCodecs, !supported.contains(codec) {
                postError(.core(GST_CORE_ERROR_NEGOTIATION),
                          "The worker transform cannot process \(codec.mimeType)",
                          debug: "it accepts \(supported.map(\.mimeType).sorted().joined(separator: ", "))")
                gst_event_unref(event)
                return false
            }
            return worker.submit(event)
        default:
            if swift_event_is_serialized(event) != 0 { return worker.submit(event) }
            return super.event(pad: pad, event: event)
        }
    }

    override func query(pad: UnsafeMutablePointer<GstPad>, query: UnsafeMutablePointer<GstQuery>) -> Bool {
        guard let supported = worker?.supportedCodecs else { return super.query(pad: pad, query: query) }
        switch swift_query_type(query) {
        case GST_QUERY_CAPS:
            guard super.query(pad: pad, query: query) else { return false }
            var result: UnsafeMutablePointer<GstCaps>?
            gst_query_parse_caps_result(query, &result)
            guard let result, let allowed = gst_caps_from_string(EncodedCodec.capsString(supported)) else { return true }
            let narrowed = gst_caps_intersect(result, allowed)
            gst_query_set_caps_result(query, narrowed)
            gst_caps_unref(narrowed)
            gst_caps_unref(allowed)
            return true
        case GST_QUERY_ACCEPT_CAPS:
            var caps: UnsafeMutablePointer<GstCaps>?
            gst_query_parse_accept_caps(query, &caps)
            if let caps, let (codec, _, _) = Self.codec(of: caps), !supported.contains(codec) {
                gst_query_set_accept_caps_result(query, 0)
                return true
            }
            return super.query(pad: pad, query: query)
        default:
            return super.query(pad: pad, query: query)
        }
    }

    /// The codec (and picture size, when the caps give it) of fixed caps.
    static func codec(of caps: UnsafeMutablePointer<GstCaps>) -> (EncodedCodec, Int?, Int?)? {
        guard gst_caps_get_size(caps) == 1, let structure = gst_caps_get_structure(caps, 0),
              let codec = EncodedCodec(capsName: String(cString: gst_structure_get_name(structure))) else { return nil }
        var width: gint = 0
        var height: gint = 0
        let hasSize = gst_structure_get_int(structure, "width", &width) != 0 && gst_structure_get_int(structure, "height", &height) != 0
        return (codec, hasSize ? Int(width) : nil, hasSize ? Int(height) : nil)
    }
}
