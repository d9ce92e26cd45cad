// One page's signalling connection: it creates the GStreamer peer when the page says hello,
// carries offer/answer/ICE between the peer and the page, applies key rotations (sframe) and
// ratchets (livekit) to the peer's transforms (post-message) and exchanges figures with the page.
import FlyingFox
import Foundation
import Synchronization
import WebRTCLoopback

/// State of one page connection. The WebSocket's receive loop calls `handle`; webrtcbin's
/// threads call the signalling closure, which only yields to `outgoing` (thread-safe).
final class CallSession: Sendable {
    private let configuration: CallServerConfiguration
    private let report: CallReportStore
    private let outgoing: AsyncStream<WSMessage>.Continuation
    private let state = Mutex<State>(State())

    private struct State {
        var peer: RemotePeer?
        var mode: CallMode?
        var generation = 1
        var statsTask: Task<Void, Never>?
    }

    init(configuration: CallServerConfiguration, report: CallReportStore, outgoing: AsyncStream<WSMessage>.Continuation) {
        self.configuration = configuration
        self.report = report
        self.outgoing = outgoing
    }

    // MARK: - page → server

    func handle(text: String) {
        guard let data = text.data(using: .utf8),
              let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let type = object["type"] as? String else {
            sendError("not a signalling message (expected a JSON object with a \"type\"): \(text.prefix(80))")
            return
        }
        switch type {
        case "hello": hello(object)
        case "answer":
            guard let sdp = object["sdp"] as? String else { return sendError("answer without sdp") }
            do { try peer()?.applyAnswer(sdp: sdp) } catch { sendError("answer: \(error)") }
        case "ice":
            guard let candidate = object["candidate"] as? String else { return sendError("ice without candidate") }
            let line = (object["sdpMLineIndex"] as? NSNumber)?.uint32Value ?? 0
            peer()?.addICECandidate(mLineIndex: line, candidate: candidate)
        case "rotate-key": rotate(object)
        case "ratchet-key": ratchet(gstreamer: true, page: false)
        case "key-ratcheted":
            report.update { $0.pageRatchets += 1 }
            report.log("the page ratcheted its send keys")
        case "stats":
            report.update { $0.browser = CallFigures(json: object.filter { $0.key != "type" }) }
        case "selftest":
            report.update { $0.selftest = CallFigures(json: object.filter { $0.key != "type" }) }
            let failures = (object["failures"] as? [String]) ?? []
            report.log("selftest: \(object["passed"] ?? 0) passed, \(object["failed"] ?? 0) failed" + (failures.isEmpty ? "" : ": " + failures.joined(separator: "; ")))
        case "log":
            report.log("page \((object["level"] as? String) ?? "info"): \((object["text"] as? String) ?? "")")
        default:
            sendError("unknown message type \"\(type)\" (expected hello, answer, ice, rotate-key, ratchet-key, key-ratcheted, stats, selftest or log)")
        }
    }

    /// The page is ready: build the GStreamer peer for its mode and start it (the offer follows).
    private func hello(_ object: [String: Any]) {
        let modeName = (object["mode"] as? String) ?? CallMode.sframe.rawValue
        guard let mode = CallMode(rawValue: modeName) else {
            return sendError("mode \"\(modeName)\" is not one of \(CallMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let reason = mode.unavailableReason { return sendError("mode \(mode.rawValue): \(reason)") }
        if mode == .sframe, let suite = object["suite"] as? NSNumber, suite.intValue != 4 {
            return sendError("suite \(suite) is not supported by the GStreamer peer of this demo (it uses 4, AES_128_GCM_SHA256_128)")
        }
        guard state.withLock({ $0.peer == nil }) else { return sendError("hello: the call has already started") }
        let api = (object["api"] as? String) ?? "?"
        report.log("page connected: mode \(mode.rawValue), api \(api), \((object["userAgent"] as? String) ?? "")")
        report.update {
            $0.mode = mode.rawValue
            $0.api = api
            $0.calls += 1
        }
        let outgoing = self.outgoing
        do {
            let vp8Layout = peerVideoLayout(mode, configured: configuration.vp8Layout)
            let peerConfiguration = mode.peerConfiguration(key: configuration.key, generation: 1,
                                                           vp8TokenPartitions: configuration.vp8TokenPartitions, vp8Layout: vp8Layout,
                                                           passphrase: configuration.passphrase)
            let peer = try RemotePeer(peerConfiguration, hostAddresses: configuration.iceHostAddresses) { message in
                switch message {
                case .offer(let sdp):
                    // The page's video receiver must leave the same bytes clear as the peer's sender.
                    outgoing.yield(.text(jsonText(["type": "offer", "sdp": sdp, "videoLayout": vp8Layout.rawValue])))
                case .candidate(let line, let candidate):
                    outgoing.yield(.text(jsonText(["type": "ice", "candidate": candidate, "sdpMLineIndex": line])))
                }
            }
            try peer.start()
            state.withLock {
                $0.peer = peer
                $0.mode = mode
            }
            report.update { $0.peer = peer }
            startReportingFigures()
        } catch {
            report.log("error: cannot start the GStreamer peer: \(error)")
            sendError("the GStreamer peer cannot start: \(error)")
        }
    }

    /// Key rotation from the page. The page already holds the new key for what GStreamer sends;
    /// the peer's receivers get the browser's new key ids first, then its senders switch, then
    /// the page is told and switches its own senders: nobody receives a key id it lacks.
    private func rotate(_ object: [String: Any]) {
        guard let generation = (object["generation"] as? NSNumber)?.intValue, let key = object["key"] as? String else {
            return sendError("rotate-key needs a generation (number) and a key (hex)")
        }
        guard let (peer, mode, current) = state.withLock({ state in state.peer.map { ($0, state.mode, state.generation) } }) else {
            return sendError("rotate-key: no call yet")
        }
        guard mode == .sframe else { return sendError("rotate-key: the call is in \(mode?.rawValue ?? "?") mode, which has no keys") }
        guard generation > current else {
            return sendError("rotate-key: generation \(generation) is not newer than the current \(current)")
        }
        guard isValidBaseKey(key) else { return sendError("rotate-key: the key must be hex, at least 16 bytes (32 digits)") }
        func command(_ name: String, _ sender: CallSender) -> String {
            "\(name), key-id=(guint64)\(sender.keyID(generation: generation)), key=(string)\(key)"
        }
        // All or nothing: the receive transforms exist once the page's media has arrived.
        let steps: [(String, String)] = [
            ("recv_video_transform", command("add-key", .browserVideo)),
            ("recv_audio_transform", command("add-key", .browserAudio)),
            ("send_video_transform", command("set-key", .gstreamerVideo)),
            ("send_audio_transform", command("set-key", .gstreamerAudio)),
        ]
        let missing = steps.map(\.0).filter { peer.element(named: $0) == nil }
        guard missing.isEmpty else {
            return sendError("rotate-key: the GStreamer peer has no \(missing.joined(separator: ", ")) yet (media not flowing both ways?); nothing changed")
        }
        for (element, structure) in steps where !peer.postMessage(to: element, structure) {
            report.log("error: rotate-key: post-message to \(element) failed")
        }
        state.withLock { $0.generation = generation }
        report.update { $0.rotations.append(generation) }
        report.log("key rotated to generation \(generation) (GStreamer sends with key ids \(CallSender.gstreamerVideo.keyID(generation: generation))/\(CallSender.gstreamerAudio.keyID(generation: generation)))")
        send(["type": "key-rotated", "generation": generation])
        // Frames of the old generation may still be in flight: drop its keys a little later.
        let old = current
        Task {
            try? await Task.sleep(for: .seconds(10))
            peer.postMessage(to: "recv_video_transform", "remove-key, key-id=(guint64)\(CallSender.browserVideo.keyID(generation: old))")
            peer.postMessage(to: "recv_audio_transform", "remove-key, key-id=(guint64)\(CallSender.browserAudio.keyID(generation: old))")
        }
    }

    /// LiveKit format: the GStreamer peer's senders ratchet their key (`ratchet-key`) and/or
    /// the page is asked to ratchet its senders' key; the receivers at the other end follow
    /// through their ratchet windows. False when no livekit call is up (nothing changed).
    @discardableResult
    func ratchet(gstreamer: Bool, page: Bool) -> Bool {
        guard let (peer, mode) = state.withLock({ state in state.peer.map { ($0, state.mode) } }) else {
            sendError("ratchet-key: no call yet")
            return false
        }
        guard mode == .livekit else {
            sendError("ratchet-key: the call is in \(mode?.rawValue ?? "?") mode; ratchets are for livekit")
            return false
        }
        if gstreamer {
            let senders = ["send_video_transform", "send_audio_transform"]
            guard senders.allSatisfy({ peer.element(named: $0) != nil }) else {
                sendError("ratchet-key: the GStreamer peer has no send transforms yet; nothing changed")
                return false
            }
            for element in senders where !peer.postMessage(to: element, "ratchet-key, key-index=(int)0") {
                report.log("error: ratchet-key: post-message to \(element) failed")
            }
            report.update { $0.gstreamerRatchets += 1 }
            report.log("the GStreamer peer's senders ratcheted key index 0")
        }
        if page { send(["type": "ratchet-key-request"]) }
        return true
    }

    // MARK: - server → page

    /// Asks the page to change keys as its button does (tests use this): a new key generation
    /// (sframe), or a ratchet of both ends' send keys (livekit).
    func requestKeyRotation() {
        if state.withLock({ $0.mode }) == .livekit {
            ratchet(gstreamer: true, page: true)
        } else {
            send(["type": "rotate-key-request"])
        }
    }

    /// Every second: the transforms are asked for their stats, the figures go to the page
    /// and into the report.
    private func startReportingFigures() {
        let task = Task { [weak self] in
            while !Task.isCancelled {
                guard let self, let peer = self.peer() else { return }
                for element in ["send_video_transform", "send_audio_transform", "recv_video_transform", "recv_audio_transform"] {
                    peer.postMessage(to: element, "get-stats")
                }
                try? await Task.sleep(for: .milliseconds(200))  // the replies arrive as bus messages
                let figures = peerFigures(of: peer)
                self.report.update { $0.gstreamer = figures }
                var message: [String: Any] = ["type": "peer-stats"]
                for kind in ["video", "audio"] {
                    var entry: [String: Int] = [:]
                    for (path, value) in figures.numbers where path.hasPrefix(kind + ".") {
                        entry[String(path.dropFirst(kind.count + 1)).replacingOccurrences(of: ".", with: "-")] = value
                    }
                    message[kind] = entry
                }
                self.send(message)
                try? await Task.sleep(for: .milliseconds(800))
            }
        }
        state.withLock { $0.statsTask = task }
    }

    private func send(_ object: [String: Any]) { outgoing.yield(.text(jsonText(object))) }

    private func sendError(_ text: String) {
        report.log("error: \(text)")
        send(["type": "error", "message": text])
    }

    private func peer() -> RemotePeer? { state.withLock { $0.peer } }

    /// The page went away: stop the peer (its final figures stay in the report).
    func close() {
        let (peer, task) = state.withLock { ($0.peer, $0.statsTask) }
        task?.cancel()
        if let peer {
            report.update { $0.gstreamer = peerFigures(of: peer) }
            peer.stop()
            for error in peer.errors { report.log("GStreamer peer \(error)") }
        }
        report.log("page disconnected")
        outgoing.finish()
    }
}

/// JSON text of a dictionary of JSON values.
func jsonText(_ object: [String: Any]) -> String {
    guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "{}" }
    return String(decoding: data, as: UTF8.self)
}
