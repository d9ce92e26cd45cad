// The in-process signalling between the two webrtcbins, the receive branches, the bus and the
// sender's stats. Everything here runs on GStreamer's threads (webrtcbin's, streaming threads,
// whoever posts a bus message), never on a main loop.
import CGStreamer
import CGStreamerWebRTC
import Glibc
import Synchronization

/// The state the C callbacks share. Each callback holds its own retained reference (released by
/// the destroy notify of its signal handler, promise or bus sync handler), so a `Session` lives until
/// the pipeline is gone; it never retains the pipeline itself (no cycle).
///
/// `@unchecked Sendable`: the element pointers are borrowed from the pipeline, which outlives
/// every callback that can use them; everything mutable is behind a `Mutex` or an `Atomic`.
final class Session: @unchecked Sendable {
    let sender: UnsafeMutablePointer<GstElement>
    let receiver: UnsafeMutablePointer<GstElement>
    let configuration: LoopbackConfiguration
    let video = StreamCounters()
    let audio = StreamCounters()
    /// ERROR and WARNING bus messages and signalling failures, in order.
    let messages = Mutex<[String]>([])
    let failed = Atomic<Bool>(false)
    /// Element messages of the transforms (`sframe-error`, `sframe-stats`, ...), as
    /// `"<element>: <structure>"`.
    let transformMessages = Mutex<[String]>([])
    static let transformMessageLimit = 4_000
    private let offered = Atomic<Bool>(false)
    /// The last parsed `get-stats` reply of `sender`.
    let senderFigures = Mutex<SenderFigures?>(nil)
    /// Prints the signalling steps and SDP to stderr (environment variable `WEBRTC_LOOPBACK_DEBUG=1`).
    let verbose = getenv("WEBRTC_LOOPBACK_DEBUG").map { String(cString: $0) == "1" } ?? false

    /// Where offers and `sender`'s candidates go when the answering peer is not in this
    /// pipeline (`RemotePeer`); nil for a loopback, whose `receiver` answers in-process.
    let remote: (@Sendable (SignallingMessage) -> Void)?

    init(sender: UnsafeMutablePointer<GstElement>, receiver: UnsafeMutablePointer<GstElement>,
         configuration: LoopbackConfiguration, remote: (@Sendable (SignallingMessage) -> Void)? = nil) {
        self.sender = sender
        self.receiver = receiver
        self.configuration = configuration
        self.remote = remote
    }

    func log(_ text: @autoclosure () -> String) {
        guard verbose else { return }
        let line = "[loopback] \(text())\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }

    func record(error text: String) {
        failed.store(true, ordering: .relaxed)
        messages.withLock { $0.append("error: \(text)") }
        log("error: \(text)")
    }

    func record(warning text: String) {
        messages.withLock { $0.append("warning: \(text)") }
        log("warning: \(text)")
    }

    var retainedPointer: gpointer { Unmanaged.passRetained(self).toOpaque() }

    // MARK: - wiring

    /// Connects the signals of both webrtcbins and the pipeline's bus to this session.
    func connect(bus: UnsafeMutablePointer<GstBus>) {
        swift_signal_connect_element(sender, "on-negotiation-needed", { _, data in
            session(data)?.negotiate()
        }, retainedPointer, releaseClosureData)
        for element in sender == receiver ? [sender] : [sender, receiver] {
            swift_signal_connect_element_uint_string(element, "on-ice-candidate", { element, line, candidate, data in
                guard let element, let candidate else { return }
                session(data)?.forward(candidate: candidate, line: line, from: element)
            }, retainedPointer, releaseClosureData)
        }
        swift_signal_connect_element_pad(receiver, "pad-added", { _, pad, data in
            guard let pad else { return }
            session(data)?.incoming(pad)
        }, retainedPointer, releaseClosureData)
        gst_bus_set_sync_handler(bus, { _, message, data in
            if let message { session(data)?.busMessage(message) }
            return GST_BUS_DROP
        }, retainedPointer, releaseData)
    }

    // MARK: - offer / answer

    /// `on-negotiation-needed` of `sender` (webrtcbin's thread): create the offer; the rest is
    /// chained through promise change functions, which webrtcbin calls on its own thread.
    func negotiate() {
        guard offered.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else {
            log("negotiation needed again (ignored)")
            return
        }
        log("negotiation needed: creating the offer")
        let promise = gst_promise_new_with_change_func({ promise, data in
            guard let promise else { return }
            session(data)?.offerCreated(promise)
        }, retainedPointer, releaseData)
        swift_signal_emit_by_name_pointer_pointer(sender, "create-offer", nil, promise)
        gst_promise_unref(promise)
    }

    private func offerCreated(_ promise: UnsafeMutablePointer<GstPromise>) {
        guard let offer = description(from: promise, field: "offer", step: "create-offer") else { return }
        log("offer:\n\(sdpText(offer))")
        if let remote {
            setDescription(offer, on: sender, "set-local-description", step: "set-local-description")
            remote(.offer(sdp: sdpText(offer)))
            return
        }
        // Both peers queue the operations in order: the answer is created after the remote
        // description is set, without waiting here.
        setDescription(offer, on: sender, "set-local-description", step: "sender set-local-description")
        setDescription(offer, on: receiver, "set-remote-description", step: "receiver set-remote-description")
        let answerPromise = gst_promise_new_with_change_func({ promise, data in
            guard let promise else { return }
            session(data)?.answerCreated(promise)
        }, retainedPointer, releaseData)
        swift_signal_emit_by_name_pointer_pointer(receiver, "create-answer", nil, answerPromise)
        gst_promise_unref(answerPromise)
    }

    private func answerCreated(_ promise: UnsafeMutablePointer<GstPromise>) {
        guard let answer = description(from: promise, field: "answer", step: "create-answer") else { return }
        log("answer:\n\(sdpText(answer))")
        setDescription(answer, on: receiver, "set-local-description", step: "receiver set-local-description")
        setDescription(answer, on: sender, "set-remote-description", step: "sender set-remote-description")
    }

    /// The session description in a create-offer/create-answer reply (owned by the reply).
    private func description(from promise: UnsafeMutablePointer<GstPromise>, field: String, step: String) -> gpointer? {
        guard gst_promise_wait(promise) == GST_PROMISE_RESULT_REPLIED, let reply = gst_promise_get_reply(promise) else {
            record(error: "\(step): no reply")
            return nil
        }
        if let error = promiseError(reply) {
            record(error: "\(step): \(error)")
            return nil
        }
        guard let value = gst_structure_get_value(reply, field), g_type_check_value_holds(value, swift_type_webrtc_session_description()) != 0,
              let description = g_value_get_boxed(value) else {
            record(error: "\(step): the reply has no \(field)")
            return nil
        }
        return description
    }

    /// Emits `signal` (set-local-description / set-remote-description) with a promise whose
    /// reply is checked for an error when webrtcbin has applied the description.
    private func setDescription(_ description: gpointer, on element: UnsafeMutablePointer<GstElement>,
                                _ signal: String, step: String) {
        let context = Unmanaged.passRetained(PromiseStep(session: self, step: step)).toOpaque()
        let promise = gst_promise_new_with_change_func({ promise, data in
            guard let promise, let data else { return }
            let context = Unmanaged<PromiseStep>.fromOpaque(data).takeUnretainedValue()
            if let reply = gst_promise_get_reply(promise), let error = promiseError(reply) {
                context.session.record(error: "\(context.step): \(error)")
            } else {
                context.session.log("\(context.step): done")
            }
        }, context, { data in
            if let data { Unmanaged<PromiseStep>.fromOpaque(data).release() }
        })
        swift_signal_emit_by_name_pointer_pointer(element, signal, description, promise)
        gst_promise_unref(promise)
    }

    // MARK: - ICE

    /// `on-ice-candidate` of either peer: hand the candidate to the other one.
    private func forward(candidate: UnsafeMutablePointer<gchar>, line: guint, from element: UnsafeMutablePointer<GstElement>) {
        if let remote {
            log("candidate → remote m=\(line): \(String(cString: candidate))")
            remote(.candidate(mLineIndex: UInt32(line), candidate: String(cString: candidate)))
            return
        }
        let target = element == sender ? receiver : sender
        log("candidate \(element == sender ? "sender→receiver" : "receiver→sender") m=\(line): \(String(cString: candidate))")
        swift_signal_emit_by_name_uint_string(target, "add-ice-candidate", line, candidate)
    }

    /// The remote peer's answer (SDP text) to the offer `sender` made.
    func applyRemoteAnswer(_ sdp: String) throws {
        var message: UnsafeMutablePointer<GstSDPMessage>?
        guard gst_sdp_message_new_from_text(sdp, &message) == GST_SDP_OK, let message else {
            throw LoopbackError("the answer is not SDP")
        }
        // The description owns the message; webrtcbin copies the description.
        guard let answer = gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_ANSWER, message) else {
            gst_sdp_message_free(message)
            throw LoopbackError("cannot make a session description of the answer")
        }
        log("remote answer:\n\(sdp)")
        setDescription(answer, on: sender, "set-remote-description", step: "set-remote-description (answer)")
        gst_webrtc_session_description_free(answer)
    }

    /// One ICE candidate of the remote peer (`candidate:...` line without `a=`).
    func addRemoteCandidate(mLineIndex: UInt32, candidate: String) {
        log("candidate ← remote m=\(mLineIndex): \(candidate)")
        swift_signal_emit_by_name_uint_string(sender, "add-ice-candidate", mLineIndex, candidate)
    }

    // MARK: - receive branches

    /// `pad-added` of `receiver` (a streaming thread): depayloader ! [transform] ! decoder ! check.
    private func incoming(_ pad: UnsafeMutablePointer<GstPad>) {
        guard gst_pad_get_direction(pad) == GST_PAD_SRC else { return }
        guard let caps = gst_pad_get_current_caps(pad) ?? gst_pad_query_caps(pad, nil) else {
            record(error: "receiver pad without caps")
            return
        }
        defer { gst_caps_unref(caps) }
        let padName = String(cString: swift_object_name(asObject(pad)))
        guard gst_caps_get_size(caps) > 0, let structure = gst_caps_get_structure(caps, 0) else {
            record(error: "receiver pad \(padName) with empty caps")
            return
        }
        let encoding = gst_structure_get_string(structure, "encoding-name").map { String(cString: $0).uppercased() } ?? ""
        log("receiver pad \(padName): \(capsText(caps))")
        guard let bin = swift_object_parent(asObject(receiver)) else { return }
        do {
            try ReceiveBranch.build(for: encoding, in: UnsafeMutableRawPointer(bin).assumingMemoryBound(to: GstBin.self),
                                    from: pad, session: self)
        } catch {
            record(error: "receive branch for \(encoding.isEmpty ? padName : encoding): \(error)")
        }
    }

    // MARK: - bus

    /// Called by the poster of every bus message (sync handler); the message is then dropped.
    private func busMessage(_ message: UnsafeMutablePointer<GstMessage>) {
        let type = swift_message_type(message)
        if type == GST_MESSAGE_ELEMENT, let source = swift_message_src(message),
           String(cString: swift_object_name(source)).contains("_transform"),
           let structure = swift_message_structure(message), let text = gst_structure_to_string(structure) {
            defer { g_free(text) }
            transformMessages.withLock { messages in
                // A long call asks for stats every second: keep the most recent ones.
                if messages.count >= Self.transformMessageLimit { messages.removeFirst(messages.count / 2) }
                messages.append("\(String(cString: swift_object_name(source))): \(String(cString: text))")
            }
            return
        }
        guard type == GST_MESSAGE_ERROR || type == GST_MESSAGE_WARNING else { return }
        var error: UnsafeMutablePointer<GError>?
        var debug: UnsafeMutablePointer<gchar>?
        if type == GST_MESSAGE_ERROR { gst_message_parse_error(message, &error, &debug) } else { gst_message_parse_warning(message, &error, &debug) }
        defer { if let error { g_error_free(error) }; g_free(debug) }
        let source = swift_message_src(message).map { String(cString: swift_object_name($0)) } ?? "?"
        var text = "\(source): \(error.map { String(cString: $0.pointee.message) } ?? "?")"
        if let debug { text += " (\(String(cString: debug)))" }
        if type == GST_MESSAGE_ERROR { record(error: text) } else { record(warning: text) }
    }

    // MARK: - sender stats

    /// Asks `sender` for its stats and waits up to `timeout` seconds for the reply (never call
    /// this from a webrtcbin callback). Returns the reply, serialized, or nil on time-out.
    func requestSenderStats(timeout: Double) -> String? {
        let request = StatsRequest(session: self)
        let promise = gst_promise_new_with_change_func({ promise, data in
            guard let promise, let data else { return }
            Unmanaged<StatsRequest>.fromOpaque(data).takeUnretainedValue().replied(promise)
        }, Unmanaged.passRetained(request).toOpaque(), { data in
            if let data { Unmanaged<StatsRequest>.fromOpaque(data).release() }
        })
        swift_signal_emit_by_name_pointer_pointer(sender, "get-stats", nil, promise)
        gst_promise_unref(promise)
        let deadline = g_get_monotonic_time() + gint64(timeout * 1e6)
        while g_get_monotonic_time() < deadline {
            if let text = request.result.withLock({ $0 }) { return text }
            g_usleep(2_000)
        }
        return request.result.withLock { $0 }
    }
}

/// PLI/FIR/NACK counts per kind from `sender`'s `outbound-rtp` stats.
struct SenderFigures: Sendable {
    var video = (pli: 0, fir: 0, nack: 0)
    var audio = (pli: 0, fir: 0, nack: 0)
}

/// The user data of a checked set-description promise.
final class PromiseStep: Sendable {
    let session: Session
    let step: String
    init(session: Session, step: String) {
        self.session = session
        self.step = step
    }
}

/// One `get-stats` request.
final class StatsRequest: Sendable {
    let session: Session
    let result = Mutex<String?>(nil)
    init(session: Session) { self.session = session }

    func replied(_ promise: UnsafeMutablePointer<GstPromise>) {
        guard let reply = gst_promise_get_reply(promise) else {
            result.withLock { $0 = "" }
            return
        }
        session.senderFigures.withLock { $0 = parseSenderStats(reply) }
        let text = gst_structure_to_string(reply).map { pointer in
            defer { g_free(pointer) }
            return String(cString: pointer)
        } ?? ""
        result.withLock { $0 = text }
    }
}

/// Reads `pli-count`, `fir-count` and `nack-count` of every `outbound-rtp` entry of a
/// `get-stats` reply and attributes them to video or audio by SSRC: the `codec` entries carry
/// `ssrc` and `mime-type`. (With max-bundle, webrtcbin 1.22 gathers every pad's stats from the
/// one shared RTP session, so the `kind` and `codec-id` of an `outbound-rtp` entry can name the
/// other stream; `kind` is only the fallback.)
func parseSenderStats(_ reply: UnsafePointer<GstStructure>) -> SenderFigures {
    var entries: [UnsafePointer<GstStructure>] = []
    for index in 0..<gst_structure_n_fields(reply) {
        guard let name = gst_structure_nth_field_name(reply, guint(index)),
              let value = gst_structure_get_value(reply, name),
              g_type_check_value_holds(value, swift_type_structure()) != 0,
              let entry = gst_value_get_structure(value) else { continue }
        entries.append(entry)
    }
    func type(_ entry: UnsafePointer<GstStructure>) -> String { String(cString: gst_structure_get_name(entry)) }
    var kindOfSSRC: [Int: String] = [:]
    for entry in entries where type(entry) == "codec" {
        if let mime = stringField(entry, "mime-type"), gst_structure_has_field(entry, "ssrc") != 0 {
            kindOfSSRC[intField(entry, "ssrc")] = String(mime.prefix(while: { $0 != "/" })).lowercased()
        }
    }
    var figures = SenderFigures()
    for entry in entries where type(entry) == "outbound-rtp" {
        let kind = kindOfSSRC[intField(entry, "ssrc")] ?? stringField(entry, "kind")
        let counts = (pli: intField(entry, "pli-count"), fir: intField(entry, "fir-count"), nack: intField(entry, "nack-count"))
        if kind == "audio" {
            figures.audio = (figures.audio.pli + counts.pli, figures.audio.fir + counts.fir, figures.audio.nack + counts.nack)
        } else {
            figures.video = (figures.video.pli + counts.pli, figures.video.fir + counts.fir, figures.video.nack + counts.nack)
        }
    }
    return figures
}

// MARK: - helpers

/// The session of a callback's user data (unretained: the callback holds a reference).
func session(_ data: gpointer?) -> Session? {
    data.map { Unmanaged<Session>.fromOpaque($0).takeUnretainedValue() }
}

/// Destroy notify of a retained `Session` given to a signal handler.
let releaseClosureData: GClosureNotify = { data, _ in
    if let data { Unmanaged<Session>.fromOpaque(data).release() }
}

/// Destroy notify of a retained `Session` given to a promise or the bus.
let releaseData: GDestroyNotify = { data in
    if let data { Unmanaged<Session>.fromOpaque(data).release() }
}

func asObject<T>(_ pointer: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<GstObject> {
    UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: GstObject.self)
}

func asGObject<T>(_ pointer: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<GObject> {
    UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: GObject.self)
}

func capsText(_ caps: UnsafePointer<GstCaps>) -> String {
    guard let text = gst_caps_to_string(caps) else { return "" }
    defer { g_free(text) }
    return String(cString: text)
}

/// The error (a GError field named "error") of a promise reply, if any.
func promiseError(_ reply: UnsafePointer<GstStructure>) -> String? {
    guard let value = gst_structure_get_value(reply, "error"), let boxed = g_value_get_boxed(value) else { return nil }
    return String(cString: boxed.assumingMemoryBound(to: GError.self).pointee.message)
}

/// The SDP text of a `GstWebRTCSessionDescription`.
func sdpText(_ description: gpointer) -> String {
    let sdp = description.assumingMemoryBound(to: GstWebRTCSessionDescription.self).pointee.sdp
    guard let sdp, let text = gst_sdp_message_as_text(sdp) else { return "" }
    defer { g_free(text) }
    return String(cString: text)
}

func stringField(_ structure: UnsafePointer<GstStructure>, _ name: String) -> String? {
    gst_structure_get_string(structure, name).map { String(cString: $0) }
}

/// An integer field of any integer type (0 when absent).
func intField(_ structure: UnsafePointer<GstStructure>, _ name: String) -> Int {
    guard let value = gst_structure_get_value(structure, name) else { return 0 }
    var converted = GValue()
    g_value_init(&converted, swift_type_int64())
    defer { g_value_unset(&converted) }
    guard g_value_transform(value, &converted) != 0 else { return 0 }
    return Int(g_value_get_int64(&converted))
}
