// What a loopback and a remote-facing peer share: building the pipeline from a description,
// linking the send branches through their transforms, and the running pipeline's lifecycle,
// counters and transform controls.
import CGStreamer
import CGStreamerWebRTC
import Glibc
import Synchronization

/// A pipeline with one or two webrtcbins and the `Session` that drives them. Owns the pipeline.
final class PeerPipeline: @unchecked Sendable {
    let configuration: LoopbackConfiguration
    let pipeline: UnsafeMutablePointer<GstElement>
    let session: Session
    private let lifecycle = Mutex<Lifecycle>(.built)
    private let startTime = Atomic<Int>(0)

    private enum Lifecycle { case built, started, stopped }

    /// Parses `description`, makes the session (`makeSession` gets a lookup of the pipeline's
    /// elements by name), links every configured send branch `send_<kind>_encoded` → transform →
    /// `send_<kind>_payloader` with its counting probes, then runs `finish` (transceiver
    /// directions, ICE settings). Throws, with nothing left behind, when any step fails.
    init(_ configuration: LoopbackConfiguration, description: String,
         makeSession: ((String) -> UnsafeMutablePointer<GstElement>) -> Session,
         finish: (Session) throws -> Void) throws {
        var error: UnsafeMutablePointer<GError>?
        let parsed = gst_parse_launch(description, &error)
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
        let session = makeSession(child)
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
            try finish(session)
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

    func start() throws {
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

    var isPlaying: Bool { lifecycle.withLock { $0 == .started } }

    /// Waits until every configured kind has decoded at least one received frame.
    func waitUntilDecoding(timeout seconds: Double) -> Bool {
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

    /// The frame counters now (no RTCP figures).
    func counters() -> LoopbackStatistics {
        var result = LoopbackStatistics()
        result.video = session.video.snapshot()
        result.audio = session.audio.snapshot()
        let started = startTime.load(ordering: .relaxed)
        result.elapsed = started == 0 ? 0 : Double(g_get_monotonic_time() - started) / 1e6
        return result
    }

    func element(named name: String) -> UnsafeMutablePointer<GstElement>? {
        let bin = UnsafeMutableRawPointer(pipeline).assumingMemoryBound(to: GstBin.self)
        guard let element = gst_bin_get_by_name(bin, name) else { return nil }
        gst_object_unref(element)
        return element
    }

    /// Emits `post-message` on the element `elementName` with `structure` (GstStructure text).
    func postMessage(to elementName: String, _ structure: String) -> Bool {
        guard let element = element(named: elementName), let parsed = gst_structure_from_string(structure, nil) else { return false }
        var arguments = [GValue](repeating: GValue(), count: 2)
        g_value_init(&arguments[0], swift_type_from_instance(element))
        g_value_set_object(&arguments[0], element)
        g_value_init(&arguments[1], swift_type_structure())
        g_value_take_boxed(&arguments[1], parsed)
        defer { for index in arguments.indices { g_value_unset(&arguments[index]) } }
        let signal = g_signal_lookup("post-message", swift_type_from_instance(element))
        guard signal != 0 else { return false }
        g_signal_emitv(&arguments, signal, 0, nil)
        return true
    }

    var errors: [String] { session.messages.withLock { $0 } }
    var transformMessages: [String] { session.transformMessages.withLock { $0 } }
    var hasFailed: Bool { session.failed.load(ordering: .relaxed) }

    func stop() {
        lifecycle.withLock { $0 = .stopped }
        gst_element_set_state(pipeline, GST_STATE_NULL)
    }
}

/// Which local addresses a webrtcbin's ICE agent gathers host candidates on.
public enum ICEHostAddresses: Sendable, Equatable {
    /// 127.0.0.1 alone (both peers in this process, or a browser told to use loopback).
    case loopback
    /// 127.0.0.1 plus every other local IPv4 address.
    case loopbackAndLocal
    /// Exactly these (IPv4 or IPv6 literals), e.g. the address of a private network namespace
    /// that a browser without loopback candidates (Firefox) shares with this peer.
    case only([String])

    /// The addresses now.
    var addresses: [String] {
        switch self {
        case .loopback: return ["127.0.0.1"]
        case .only(let list): return list
        case .loopbackAndLocal:
            var addresses = ["127.0.0.1"]
            if let list = nice_interfaces_get_local_ips(0) {
                var node: UnsafeMutablePointer<GList>? = list
                while let current = node {
                    if let text = current.pointee.data {
                        let address = String(cString: text.assumingMemoryBound(to: CChar.self))
                        if !address.contains(":") { addresses.append(address) }  // IPv4: what a local browser uses
                        g_free(text)
                    }
                    node = current.pointee.next
                }
                g_list_free(list)
            }
            return addresses
        }
    }
}

/// Adds host addresses to a webrtcbin's ICE agent. libnice leaves loopback out of the
/// interfaces it gathers on, and once an address is added it gathers on the added ones only.
func addICEHostAddresses(_ webrtcbin: UnsafeMutablePointer<GstElement>, _ hostAddresses: ICEHostAddresses) {
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
    for text in hostAddresses.addresses {
        var address = NiceAddress()
        nice_address_init(&address)
        guard nice_address_set_from_string(&address, text) != 0 else { continue }
        _ = nice_agent_add_local_address(OpaquePointer(agent), &address)
    }
}
