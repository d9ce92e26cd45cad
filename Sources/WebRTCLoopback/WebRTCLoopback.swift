// Two webrtcbin peers in one process: `sender` (peer A) sends test video and/or audio,
// `receiver` (peer B) decodes and checks it. Offer/answer and ICE candidates are passed
// in-process; host candidates suffice. No GMainLoop is needed: webrtcbin's signals and promise
// callbacks run on its own threads and bus messages are handled by a sync handler.
import CGStreamer
import CGStreamerWebRTC
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
    public var pipeline: UnsafeMutablePointer<GstElement> { peers.pipeline }
    private let peers: PeerPipeline
    private var session: Session { peers.session }

    /// Builds the pipeline (NULL state). `gst_init` must have been called. Throws when an element
    /// is missing, a transform description does not parse, or something cannot be linked.
    public init(_ configuration: LoopbackConfiguration) throws {
        guard configuration.videoCodec != nil || configuration.audio else {
            throw LoopbackError("nothing to send: no video codec and no audio")
        }
        peers = try PeerPipeline(configuration, description: sendDescription(configuration, webrtcbins: ["sender", "receiver"]),
                                 makeSession: { child in
                                     Session(sender: child("sender"), receiver: child("receiver"), configuration: configuration)
                                 }, finish: { session in
                                     try makeSendOnly(session.sender)
                                     addICEHostAddresses(session.sender, .loopback)
                                     addICEHostAddresses(session.receiver, .loopback)
                                 })
        self.configuration = configuration
    }

    /// Sets the pipeline PLAYING; negotiation starts when `sender` asks for it. Errors that
    /// happen later (negotiation, ICE, streaming) show up in `errors` / `hasFailed`.
    public func start() throws { try peers.start() }

    /// Waits until every configured kind has decoded at least one frame at the receiver.
    /// Returns false on time-out or when the pipeline has failed (see `errors`).
    public func waitUntilConnected(timeout seconds: Double) -> Bool { peers.waitUntilDecoding(timeout: seconds) }

    /// The counters now, with the sender's PLI/FIR/NACK counts from a fresh `get-stats` (waits
    /// up to `statsTimeout` seconds for it; falls back to the previous reply).
    public func statistics(statsTimeout: Double = 0.5) -> LoopbackStatistics {
        let fresh = peers.isPlaying && session.requestSenderStats(timeout: statsTimeout) != nil
        var result = peers.counters()
        result.senderStatsFresh = fresh
        if let figures = session.senderFigures.withLock({ $0 }) {
            (result.video.pliCount, result.video.firCount, result.video.nackCount) = figures.video
            (result.audio.pliCount, result.audio.firCount, result.audio.nackCount) = figures.audio
        }
        return result
    }

    /// `sender`'s whole `get-stats` reply, serialized (nil on time-out or when not playing).
    public func senderStatsReport(timeout: Double = 1) -> String? {
        guard peers.isPlaying else { return nil }
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
    public func element(named name: String) -> UnsafeMutablePointer<GstElement>? { peers.element(named: name) }

    /// ERROR and WARNING messages of the bus and signalling failures, in order of arrival, as
    /// `"error: <source>: <text> (<debug>)"` / `"warning: …"`.
    public var errors: [String] { peers.errors }

    /// The transforms' element messages so far (`"recv_video_transform: sframe-error, kind=..."`).
    public var transformMessages: [String] { peers.transformMessages }

    /// Emits `post-message` on the transform `elementName` with `structure` (a GstStructure
    /// string such as `"set-key, key-id=(guint64)2, key=(string)00..."`). False when there is no
    /// such element (yet) or the text is not a structure.
    @discardableResult
    public func postMessage(to elementName: String, _ structure: String) -> Bool { peers.postMessage(to: elementName, structure) }

    /// Whether an ERROR message or a signalling failure has been seen.
    public var hasFailed: Bool { peers.hasFailed }

    /// Sets the pipeline to NULL (stops every thread). Idempotent; `deinit` calls it. The
    /// counters keep their values.
    public func stop() { peers.stop() }
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
