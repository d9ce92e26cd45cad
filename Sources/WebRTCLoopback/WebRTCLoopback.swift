// Two webrtcbin peers in one process: `sender` (peer A) sends test video and/or audio,
// `receiver` (peer B) decodes and checks it. Offer/answer and ICE candidates are passed
// in-process; host candidates suffice. No GMainLoop is needed: webrtcbin's signals and promise
// callbacks run on its own threads and bus messages are handled by a sync handler.
import CGStreamer
import Glibc
import Synchronization

/// A loopback call between two `webrtcbin`s in one pipeline.
///
///     gst_init(nil, nil)
///     let loopback = try WebRTCLoopback(LoopbackConfiguration(videoCodec: .vp8))
///     try loopback.start()
///     guard loopback.waitUntilConnected(timeout: 10) else { ... loopback.errors ... }
///     let figures = loopback.statistics()
///     loopback.stop()
///
/// Element names: `sender`, `receiver` (the webrtcbins); send side `send_<kind>_source`,
/// `send_<kind>_encoder`, `send_<kind>_encoded` (capsfilter), `send_<kind>_transform`,
/// `send_<kind>_payloader`, `send_<kind>_rtp` (capsfilter); receive side, created when the stream
/// arrives: `recv_<kind>_depayloader`, `recv_<kind>_transform`, `recv_<kind>_decoder`, …,
/// `recv_<kind>_sink`; `<kind>` is `video` or `audio`.
///
/// Thread safety: every method may be called from any thread, except from inside a GStreamer
/// callback of this pipeline (`statistics()` waits for a webrtcbin reply).
public final class WebRTCLoopback: @unchecked Sendable {
    public let configuration: LoopbackConfiguration
    /// The pipeline (a `GstPipeline`). Owned by the loopback and valid until it is deinitialised;
    /// after `stop()` it is in the NULL state.
    public let pipeline: UnsafeMutablePointer<GstElement>
    private let session: Session
    private let lifecycle = Mutex<Lifecycle>(.built)
    private let startTime = Atomic<Int>(0)

    private enum Lifecycle { case built, started, stopped }

    /// Builds the pipeline (NULL state). `gst_init` must have been called. Throws when an element
    /// is missing, a transform description does not parse, or something cannot be linked.
    public init(_ configuration: LoopbackConfiguration) throws {
        guard configuration.videoCodec != nil || configuration.audio else {
            throw LoopbackError("nothing to send: no video codec and no audio")
        }
        var error: UnsafeMutablePointer<GError>?
        let parsed = gst_parse_launch(sendDescription(configuration), &error)
        if let error {
            let text = String(cString: error.pointee.message)
            g_error_free(error)
            if let parsed { gst_object_unref(parsed) }
            throw LoopbackError("cannot build the pipeline: \(text)")
        }
        guard let parsed else { throw LoopbackError("cannot build the pipeline") }
        let bin = UnsafeMutableRawPointer(parsed).assumingMemoryBound(to: GstBin.self)
        func child(_ name: String) -> UnsafeMutablePointer<GstElement> {
            let element = gst_bin_get_by_name(bin, name)!
            gst_object_unref(element)  // the pipeline keeps it
            return element
        }
        // Everything that can fail happens before the stored properties are set: a class whose
        // initializer throws after that point would run deinit.
        let session = Session(sender: child("sender"), receiver: child("receiver"), configuration: configuration)
        do {
            let kinds: [(String, String?)] = (configuration.videoCodec != nil ? [("video", configuration.sendVideoTransform)] : [])
                + (configuration.audio ? [("audio", configuration.sendAudioTransform)] : [])
            for (kind, description) in kinds {
                let transform = try description.map { try makeTransform($0, name: "send_\(kind)_transform") }
                let payloader = child("send_\(kind)_payloader")
                try link(child("send_\(kind)_encoded"), through: transform, to: payloader, in: bin)
                let counters = kind == "video" ? session.video : session.audio
                addProbe(payloader, pad: "sink", role: .sent, counters: counters)
                addKeyFrameRequestProbe(child("send_\(kind)_encoder"), counters: counters)
            }
            try makeSendOnly(session.sender)
            restrictICEToLoopback(session.sender)
            restrictICEToLoopback(session.receiver)
        } catch {
            gst_object_unref(parsed)
            throw error
        }
        self.configuration = configuration
        self.pipeline = parsed
        self.session = session
        let bus = gst_element_get_bus(pipeline)!
        session.connect(bus: bus)
        gst_object_unref(bus)
    }

    deinit {
        stop()
        gst_object_unref(pipeline)
    }

    /// Sets the pipeline PLAYING; negotiation starts when `sender` asks for it. Errors that
    /// happen later (negotiation, ICE, streaming) show up in `errors` / `hasFailed`.
    public func start() throws {
        try lifecycle.withLock { state in
            guard state == .built else { throw LoopbackError("start() may be called once, before stop()") }
            state = .started
        }
        startTime.store(g_get_monotonic_time(), ordering: .relaxed)
        if gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE {
            let details = errors.joined(separator: "; ")
            throw LoopbackError("the pipeline cannot play" + (details.isEmpty ? "" : ": \(details)"))
        }
    }

    /// Waits until every configured kind has decoded at least one frame at the receiver.
    /// Returns false on time-out or when the pipeline has failed (see `errors`).
    public func waitUntilConnected(timeout seconds: Double) -> Bool {
        let deadline = g_get_monotonic_time() + gint64(seconds * 1e6)
        while true {
            if hasFailed { return false }
            let videoReady = configuration.videoCodec == nil || session.video.decoded.load(ordering: .relaxed) > 0
            let audioReady = !configuration.audio || session.audio.decoded.load(ordering: .relaxed) > 0
            if videoReady && audioReady { return true }
            if g_get_monotonic_time() >= deadline { return false }
            g_usleep(10_000)
        }
    }

    /// The counters now, with the sender's PLI/FIR/NACK counts from a fresh `get-stats` (waits
    /// up to `statsTimeout` seconds for it; falls back to the previous reply).
    public func statistics(statsTimeout: Double = 0.5) -> LoopbackStatistics {
        var result = LoopbackStatistics()
        let playing = lifecycle.withLock { $0 == .started }
        if playing {
            result.senderStatsFresh = session.requestSenderStats(timeout: statsTimeout) != nil
        }
        result.video = session.video.snapshot()
        result.audio = session.audio.snapshot()
        if let figures = session.senderFigures.withLock({ $0 }) {
            (result.video.pliCount, result.video.firCount, result.video.nackCount) = figures.video
            (result.audio.pliCount, result.audio.firCount, result.audio.nackCount) = figures.audio
        }
        let started = startTime.load(ordering: .relaxed)
        result.elapsed = started == 0 ? 0 : Double(g_get_monotonic_time() - started) / 1e6
        return result
    }

    /// `sender`'s whole `get-stats` reply, serialized (nil on time-out or when not playing).
    public func senderStatsReport(timeout: Double = 1) -> String? {
        guard lifecycle.withLock({ $0 == .started }) else { return nil }
        return session.requestSenderStats(timeout: timeout)
    }

    /// The colours (video) or zero-crossing rate (audio) last measured at the receiver.
    public func lastReceivedSample(video: Bool) -> String {
        (video ? session.video : session.audio).lastSample.withLock { $0 }
    }

    /// Asks the sender for a video key frame the way a decoder does: an upstream
    /// force-key-unit event (all-headers=false) pushed from the sink pad of `recv_video_decoder`,
    /// through the receive transform and depayloader into `receiver`, which sends RTCP PLI;
    /// `sender` turns that into a force-key-unit event towards the encoder, through the send
    /// transform (counted in `keyFrameRequests`, the PLI in `pliCount`). (all-headers=true would
    /// make rtpsession send FIR, which 1.22 does not count in the stats.)
    /// Returns false when there is no video receive branch yet or the event was not handled.
    @discardableResult
    public func requestKeyFrame() -> Bool {
        guard let decoder = element(named: "recv_video_decoder"),
              let pad = gst_element_get_static_pad(decoder, "sink") else { return false }
        defer { gst_object_unref(pad) }
        return gst_pad_push_event(pad, gst_video_event_new_upstream_force_key_unit(swift_clock_time_none(), 0, 0)) != 0
    }

    /// The element of that name anywhere in the pipeline (also inside bins), or nil. The
    /// pointer is borrowed: the pipeline keeps the element alive (do NOT unref it) until the
    /// loopback is deinitialised. Receive-side elements exist once their stream has arrived.
    public func element(named name: String) -> UnsafeMutablePointer<GstElement>? {
        let bin = UnsafeMutableRawPointer(pipeline).assumingMemoryBound(to: GstBin.self)
        guard let element = gst_bin_get_by_name(bin, name) else { return nil }
        gst_object_unref(element)
        return element
    }

    /// ERROR and WARNING messages of the bus and signalling failures, in order of arrival, as
    /// `"error: <source>: <text> (<debug>)"` / `"warning: …"`.
    public var errors: [String] { session.messages.withLock { $0 } }

    /// The transforms' element messages so far (`"recv_video_transform: sframe-error, kind=..."`).
    public var transformMessages: [String] { session.transformMessages.withLock { $0 } }

    /// Emits `post-message` on the transform `elementName` with `structure` (a GstStructure
    /// string such as `"set-key, key-id=(guint64)2, key=(string)00..."`). False when there is no
    /// such element (yet) or the text is not a structure.
    @discardableResult
    public func postMessage(to elementName: String, _ structure: String) -> Bool {
        guard let element = element(named: elementName), let parsed = gst_structure_from_string(structure, nil) else { return false }
        var arguments = [GValue](repeating: GValue(), count: 2)
        g_value_init(&arguments[0], swift_type_from_instance(element))
        g_value_set_object(&arguments[0], element)
        g_value_init(&arguments[1], swift_type_structure())
        g_value_take_boxed(&arguments[1], parsed)
        let signal = g_signal_lookup("post-message", swift_type_from_instance(element))
        guard signal != 0 else {
            for index in arguments.indices { g_value_unset(&arguments[index]) }
            return false
        }
        g_signal_emitv(&arguments, signal, 0, nil)
        for index in arguments.indices { g_value_unset(&arguments[index]) }
        return true
    }

    /// Whether an ERROR message or a signalling failure has been seen.
    public var hasFailed: Bool { session.failed.load(ordering: .relaxed) }

    /// Sets the pipeline to NULL (stops every thread). Idempotent; `deinit` calls it. The
    /// counters keep their values.
    public func stop() {
        lifecycle.withLock { $0 = .stopped }
        gst_element_set_state(pipeline, GST_STATE_NULL)
    }
}

/// Both peers live in this process: their ICE agents gather host candidates on 127.0.0.1 only.
/// libnice leaves loopback out of the interfaces it gathers on by default, so without this a
/// machine whose only interface is `lo` (a CI container) would have no candidate at all.
private func restrictICEToLoopback(_ webrtcbin: UnsafeMutablePointer<GstElement>) {
    func objectProperty(_ object: UnsafeMutableRawPointer, _ name: String) -> UnsafeMutableRawPointer? {
        var value = GValue()
        g_value_init(&value, swift_type_object())
        defer { g_value_unset(&value) }
        g_object_get_property(object.assumingMemoryBound(to: GObject.self), name, &value)
        return g_value_dup_object(&value)
    }
    guard let ice = objectProperty(UnsafeMutableRawPointer(webrtcbin), "ice-agent") else { return }
    defer { g_object_unref(ice) }
    guard let agent = objectProperty(ice, "agent") else { return }
    defer { g_object_unref(agent) }
    var address = NiceAddress()
    nice_address_init(&address)
    guard nice_address_set_from_string(&address, "127.0.0.1") != 0 else { return }
    _ = nice_agent_add_local_address(OpaquePointer(agent), &address)
}

/// Makes every transceiver of `webrtcbin` send-only (peer A only sends).
private func makeSendOnly(_ webrtcbin: UnsafeMutablePointer<GstElement>) throws {
    let iterator = gst_element_iterate_sink_pads(webrtcbin)!
    defer { gst_iterator_free(iterator) }
    var item = GValue()
    defer { g_value_unset(&item) }
    while gst_iterator_next(iterator, &item) == GST_ITERATOR_OK {
        guard let pad = g_value_get_object(&item) else { continue }
        var transceiver = GValue()
        g_value_init(&transceiver, gst_webrtc_rtp_transceiver_get_type())
        g_object_get_property(pad.assumingMemoryBound(to: GObject.self), "transceiver", &transceiver)
        if let object = g_value_get_object(&transceiver) {
            gst_util_set_object_arg(object.assumingMemoryBound(to: GObject.self), "direction", "sendonly")
        }
        g_value_unset(&transceiver)
        g_value_reset(&item)
    }
}
