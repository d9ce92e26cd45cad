// The HTTP server of the browser interop call: serves the page (Web/), the RFC 9605 and LiveKit
// test vectors for the page's self test, and the signalling WebSocket (/signalling) that connects a
// page to a GStreamer peer (CallSession).
import FlyingFox
import FlyingSocks
import Foundation
import Synchronization
import WebRTCLoopback

/// How the server listens and what the GStreamer peer uses.
public struct CallServerConfiguration: Sendable {
    /// The address to listen on. The page needs a secure context (WebCrypto, getUserMedia):
    /// http:// works on 127.0.0.1/localhost only, so loopback is the default.
    public var host = "127.0.0.1"
    /// 0 picks a free port (`BrowserCallServer.start()` returns it).
    public var port: UInt16 = 8080
    /// The GStreamer peer's base key of key generation 1 (hex, at least 16 bytes); the page
    /// gets its own from the URL fragment.
    public var key = LoopbackConfiguration.demoKey
    /// The GStreamer peer's passphrase in the LiveKit format (mode `livekit`); the page gets its
    /// own from the URL fragment.
    public var passphrase = LoopbackConfiguration.demoPassphrase
    /// Where the GStreamer peer gathers ICE candidates: 127.0.0.1 and the other local IPv4
    /// addresses (default), 127.0.0.1 only (with a browser started with
    /// `--allow-loopback-in-peer-connection`), or given addresses (`PrivateNetwork.address` for
    /// a call with Firefox in a private network namespace).
    public var iceHostAddresses = ICEHostAddresses.loopbackAndLocal
    /// DCT partitions of the GStreamer peer's VP8 frames (1, 2, 4, 8): more than one makes the
    /// page's decryption depend on reading the partition count as the plugin does.
    public var vp8TokenPartitions = 4
    /// The clear bytes of the GStreamer peer's VP8: `gstreamer` (through `rtpvp8pay`) or the
    /// browsers' `web` layout (through `rtpvp8e2eepay`); the page learns it from the offer.
    public var vp8Layout = PeerVP8Layout.gstreamer
    /// Serves `sframe-test-vectors.json` and `livekit-e2ee-vectors.json` of this folder at
    /// /testdata/ (the page's self test).
    public var testDataDirectory: String?
    /// Called with every line of the call's log (page logs, signalling steps, errors).
    public var log: (@Sendable (String) -> Void)?

    public init() {}
}

/// What happened in the calls so far: the latest figures of both ends and the log.
public struct CallReport: Sendable {
    /// The page's latest `stats` message, flattened (`video.receive.decrypted`, ...).
    public var browser = CallFigures()
    /// The GStreamer peer's latest figures (`video.receive.decrypted`, `audio.send.encrypted`,
    /// `video.receive.framesDecoded`, ...).
    public var gstreamer = CallFigures()
    /// The page's self-test result (`passed`, `failed`), if it ran.
    public var selftest: CallFigures?
    /// Mode and transform API (`script-transform` / `encoded-streams`) the page reported.
    public var mode: String?
    public var api: String?
    /// Pages that said hello.
    public var calls = 0
    /// Key generations the GStreamer peer switched to, in order (sframe).
    public var rotations: [Int] = []
    /// Ratchets of the GStreamer peer's send keys (livekit: `ratchet-key` to both senders).
    public var gstreamerRatchets = 0
    /// Ratchets of the page's send keys the page confirmed (livekit).
    public var pageRatchets = 0
    public var log: [String] = []
    /// The GStreamer peer of the current (or last) call.
    public var peer: RemotePeer?
}

/// The report, shared by the server, its sessions and whoever watches (tests, the CLI), who can
/// wait for a condition on it: every change checks the waiting conditions.
final class CallReportStore: Sendable {
    private struct Waiter {
        let id: UInt64
        let condition: @Sendable (CallReport) -> Bool
        let continuation: CheckedContinuation<Bool, Never>
        let timeout: Task<Void, Never>
    }
    private struct State {
        var report = CallReport()
        var waiters: [Waiter] = []
        var nextWaiter: UInt64 = 0
    }
    private let state = Mutex(State())
    private let logSink: (@Sendable (String) -> Void)?

    init(logSink: (@Sendable (String) -> Void)?) { self.logSink = logSink }

    func update(_ change: (inout CallReport) -> Void) {
        let satisfied = state.withLock { state -> [Waiter] in
            change(&state.report)
            let report = state.report
            let done = state.waiters.filter { $0.condition(report) }
            state.waiters.removeAll { waiter in done.contains { $0.id == waiter.id } }
            return done
        }
        for waiter in satisfied {
            waiter.timeout.cancel()
            waiter.continuation.resume(returning: true)
        }
    }

    func snapshot() -> CallReport { state.withLock { $0.report } }

    func log(_ line: String) {
        update { report in
            if report.log.count >= 2_000 { report.log.removeFirst(1_000) }
            report.log.append(line)
        }
        logSink?(line)
    }

    /// True as soon as `condition` holds for the report (checked now and after every change),
    /// false when `timeout` passes first.
    func wait(timeout: Duration, until condition: @escaping @Sendable (CallReport) -> Bool) async -> Bool {
        await withCheckedContinuation { continuation in
            let id = state.withLock { state -> UInt64 in
                state.nextWaiter += 1
                return state.nextWaiter
            }
            let timeout = Task { [weak self] in
                try? await Task.sleep(for: timeout)
                guard !Task.isCancelled else { return }
                self?.expire(id)
            }
            let holds = state.withLock { state -> Bool in
                if condition(state.report) { return true }
                state.waiters.append(Waiter(id: id, condition: condition, continuation: continuation, timeout: timeout))
                return false
            }
            if holds {
                timeout.cancel()
                continuation.resume(returning: true)
            }
        }
    }

    private func expire(_ id: UInt64) {
        let waiter = state.withLock { state -> Waiter? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        waiter?.continuation.resume(returning: false)
    }
}

/// Serves the call page and connects each page that opens /signalling to a new GStreamer peer.
///
///     let server = BrowserCallServer(configuration)
///     let port = try await server.start()
///     print(server.pageURL())          // open it in Chromium or Firefox
///     ...
///     await server.stop()
public final class BrowserCallServer: Sendable {
    public let configuration: CallServerConfiguration
    private let store: CallReportStore
    private let sessions = Mutex<[CallSession]>([])
    private let http = Mutex<(server: HTTPServer, task: Task<Void, Error>)?>(nil)
    private let boundPort = Atomic<UInt16>(0)

    public init(_ configuration: CallServerConfiguration) {
        self.configuration = configuration
        store = CallReportStore(logSink: configuration.log)
    }

    /// Starts listening; returns the port. `gst_init` must have been called (the GStreamer
    /// peers are made when pages connect). Throws when the address is taken or the page's
    /// files are missing.
    @discardableResult
    public func start() async throws -> UInt16 {
        let files = try WebFiles.load()
        let address = try sockaddr_in.inet(ip4: configuration.host, port: configuration.port)
        let server = HTTPServer(address: address, timeout: 3600, logger: .disabled)
        for name in ["sframe-test-vectors.json", "livekit-e2ee-vectors.json"] {
            let vectors = configuration.testDataDirectory.map { URL(fileURLWithPath: $0).appendingPathComponent(name) }
            await server.appendRoute(HTTPRoute("GET /testdata/\(name)")) { _ in
                guard let vectors, let data = try? Data(contentsOf: vectors) else { return HTTPResponse(statusCode: .notFound) }
                return HTTPResponse(statusCode: .ok, headers: [.contentType: "application/json"], body: data)
            }
        }
        await server.appendRoute("GET /signalling", to: WebSocketHTTPHandler(handler: MessageFrameWSHandler(handler: SignallingHandler(server: self))))
        await server.appendRoute("GET *") { request in files.response(for: request.path) }
        let task = Task { try await server.run() }
        do {
            try await server.waitUntilListening(timeout: 5)
        } catch {
            task.cancel()
            // run() ends with the reason (address in use, ...)
            if case .failure(let reason) = await task.result { throw reason }
            throw error
        }
        if case .ip4(_, let port) = await server.listeningAddress {
            boundPort.store(port, ordering: .relaxed)
        }
        http.withLock { $0 = (server, task) }
        store.log("listening on http://\(configuration.host):\(port)")
        return port
    }

    /// The port the server listens on (0 before `start()`).
    public var port: UInt16 { boundPort.load(ordering: .relaxed) }

    /// The page's address: `mode` sframe, livekit (`?e2ee=livekit`) or negate, the page's key
    /// (sframe, hex) or passphrase (livekit) in the fragment (the page never sends it to the
    /// server; nil: the server's own), `autostart` to start the call without a click,
    /// `syntheticMedia` to send a drawn pattern and a tone instead of camera and microphone (the
    /// page also does that when it has none).
    /// `transformAPI` `encoded-streams` forces the page's fallback for browsers without
    /// RTCRtpScriptTransform (`createEncodedStreams()`).
    public func pageURL(mode: CallMode = .sframe, key: String? = nil, passphrase: String? = nil, autostart: Bool = false,
                        syntheticMedia: Bool = false, transformAPI: String? = nil, path: String = "/") -> String {
        var query = [mode == .livekit ? "e2ee=livekit" : "mode=\(mode.rawValue)"]
        if autostart { query.append("autostart=1") }
        if syntheticMedia { query.append("media=synthetic") }
        if let transformAPI { query.append("api=\(transformAPI)") }
        let fragment = mode == .livekit
            ? "passphrase=" + (passphrase ?? configuration.passphrase).addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            : "key=\(key ?? configuration.key)"
        return "http://\(configuration.host == "0.0.0.0" ? "127.0.0.1" : configuration.host):\(port)\(path)?\(query.joined(separator: "&"))#\(fragment)"
    }

    /// The calls' figures and log so far.
    public var report: CallReport { store.snapshot() }

    /// Waits until `condition` holds for the report (checked at once and after every change of
    /// it: the page's figures arrive every 500 ms, the peer's every second); false when
    /// `timeout` passes first.
    public func waitForReport(timeout: Duration, until condition: @escaping @Sendable (CallReport) -> Bool) async -> Bool {
        await store.wait(timeout: timeout, until: condition)
    }

    /// Asks the connected page(s) to change keys as the page's button does: sframe rotates to a
    /// new key generation, livekit ratchets every sender's key (both ends). False when no page
    /// is connected.
    @discardableResult
    public func requestKeyRotation() -> Bool {
        let current = sessions.withLock { $0 }
        current.forEach { $0.requestKeyRotation() }
        return !current.isEmpty
    }

    /// LiveKit format: ratchets the send keys of the GStreamer peer (`ratchet-key` to its two
    /// send transforms) and/or of the page; the receivers at the other end follow through their
    /// ratchet windows. False when no call in livekit mode is up.
    @discardableResult
    public func ratchetSendKeys(gstreamer: Bool, page: Bool) -> Bool {
        let current = sessions.withLock { $0 }
        return current.map { $0.ratchet(gstreamer: gstreamer, page: page) }.contains(true)
    }

    /// Closes the connections, stops the GStreamer peers and the server.
    public func stop() async {
        let current = sessions.withLock { sessions in
            defer { sessions.removeAll() }
            return sessions
        }
        current.forEach { $0.close() }
        guard let (server, task) = http.withLock({ $0 }) else { return }
        await server.stop(timeout: 1)
        task.cancel()
        http.withLock { $0 = nil }
    }

    // MARK: - sessions

    fileprivate func open(outgoing: AsyncStream<WSMessage>.Continuation) -> CallSession {
        let session = CallSession(configuration: configuration, report: store, outgoing: outgoing)
        sessions.withLock { $0.append(session) }
        return session
    }

    fileprivate func closed(_ session: CallSession) {
        sessions.withLock { $0.removeAll { $0 === session } }
        session.close()
    }
}

/// One WebSocket: messages in go to a new `CallSession`, its messages go out.
private struct SignallingHandler: WSMessageHandler {
    let server: BrowserCallServer

    func makeMessages(for client: AsyncStream<WSMessage>) async throws -> AsyncStream<WSMessage> {
        let (outgoing, continuation) = AsyncStream.makeStream(of: WSMessage.self)
        let session = server.open(outgoing: continuation)
        Task {
            for await message in client {
                if case .text(let text) = message { session.handle(text: text) }
            }
            server.closed(session)
        }
        return outgoing
    }
}

/// The page's files (the target's Web/ resources), read once; nothing else is served from disk.
struct WebFiles: Sendable {
    private let files: [String: (data: Data, type: String)]

    static func load() throws -> WebFiles {
        guard let folder = Bundle.module.url(forResource: "Web", withExtension: nil) else {
            throw LoopbackError("the page's files (BrowserCall's Web resources) are missing from the build")
        }
        var files: [String: (Data, String)] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where !name.hasPrefix(".") {
            let type: String
            switch (name as NSString).pathExtension {
            case "html": type = "text/html; charset=utf-8"
            case "js", "mjs": type = "text/javascript; charset=utf-8"
            case "css": type = "text/css; charset=utf-8"
            case "json": type = "application/json"
            default: type = "application/octet-stream"
            }
            files[name] = (try Data(contentsOf: folder.appendingPathComponent(name)), type)
        }
        return WebFiles(files: files)
    }

    func response(for path: String) -> HTTPResponse {
        let name = path == "/" ? "index.html" : String(path.drop(while: { $0 == "/" }))
        guard let file = files[name] else { return HTTPResponse(statusCode: .notFound) }
        return HTTPResponse(statusCode: .ok, headers: [.contentType: file.type, .cacheControl: "no-store"], body: file.data)
    }
}
