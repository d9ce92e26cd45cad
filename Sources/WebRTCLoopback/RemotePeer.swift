// One webrtcbin peer that calls a peer outside this process (a browser): it sends test video
// and audio through the send transforms and decodes what the remote peer sends through the
// receive transforms. The offer and its ICE candidates leave through a callback; the answer
// and the remote candidates come in through methods. The caller carries them (WebSocket, ...).
import CGStreamer
import CGStreamerWebRTC

/// A signalling message from the GStreamer peer to the remote one.
public enum SignallingMessage: Sendable, Equatable {
    /// The offer's SDP text (webrtcbin always offers).
    case offer(sdp: String)
    /// A local ICE candidate (`candidate:...`, without `a=`) of m-line `mLineIndex`.
    case candidate(mLineIndex: UInt32, candidate: String)
}

/// A `webrtcbin` named `peer` that offers to a remote peer: send-receive transceivers for VP8 (or
/// H.264) video and Opus audio, the send side of `WebRTCLoopback` (test sources, `send_<kind>_*`
/// elements) and its receive branches (`recv_<kind>_*`, created when the remote media arrives).
///
///     let peer = try RemotePeer(configuration) { message in websocket.send(message) }
///     try peer.start()                 // webrtcbin asks for negotiation: the offer goes out
///     try peer.applyAnswer(sdp)        // from the remote peer
///     peer.addICECandidate(mLineIndex: 0, candidate: "candidate:...")
///
/// Thread safety: every method may be called from any thread, except from inside a GStreamer
/// callback of this pipeline. `signalling` is called on webrtcbin's threads.
public final class RemotePeer: @unchecked Sendable {
    public let configuration: LoopbackConfiguration
    private let peers: PeerPipeline

    /// Builds the pipeline (NULL state). `gst_init` must have been called. `hostAddresses`: where
    /// ICE host candidates are gathered: 127.0.0.1 and every other local IPv4 address (default),
    /// 127.0.0.1 only (the remote peer is on this machine and offers loopback candidates), or
    /// the given addresses (e.g. a private network namespace shared with a browser).
    public init(_ configuration: LoopbackConfiguration, hostAddresses: ICEHostAddresses = .loopbackAndLocal,
                signalling: @escaping @Sendable (SignallingMessage) -> Void) throws {
        guard configuration.videoCodec != nil || configuration.audio else {
            throw LoopbackError("nothing to send: no video codec and no audio")
        }
        peers = try PeerPipeline(configuration, description: sendDescription(configuration, webrtcbins: ["peer"]),
                                 makeSession: { child in
                                     Session(sender: child("peer"), receiver: child("peer"), configuration: configuration,
                                             remote: signalling)
                                 }, finish: { session in
                                     addICEHostAddresses(session.sender, hostAddresses)
                                 })
        self.configuration = configuration
    }

    /// Sets the pipeline PLAYING; webrtcbin then creates the offer and hands it to `signalling`.
    public func start() throws { try peers.start() }

    /// The remote peer's answer.
    public func applyAnswer(sdp: String) throws { try peers.session.applyRemoteAnswer(sdp) }

    /// A remote ICE candidate (`candidate:...`); an empty string ends the remote candidates.
    public func addICECandidate(mLineIndex: UInt32, candidate: String) {
        peers.session.addRemoteCandidate(mLineIndex: mLineIndex, candidate: candidate)
    }

    /// Waits until every configured kind has decoded at least one frame from the remote peer.
    public func waitUntilDecoding(timeout seconds: Double) -> Bool { peers.waitUntilDecoding(timeout: seconds) }

    /// Frames sent, received and decoded per kind. (`intactFrames` compares with GStreamer's own
    /// test sources, so it stays 0 for a browser's media.)
    public func statistics() -> LoopbackStatistics { peers.counters() }

    /// The element of that name (borrowed pointer, valid while the peer lives), or nil.
    public func element(named name: String) -> UnsafeMutablePointer<GstElement>? { peers.element(named: name) }

    /// Emits `post-message` on the transform `elementName` (`send_video_transform`, ...) with
    /// `structure`, e.g. `"set-key, key-id=(guint64)9, key=(string)00..."`. False when there is
    /// no such element (yet) or the text is not a structure.
    @discardableResult
    public func postMessage(to elementName: String, _ structure: String) -> Bool { peers.postMessage(to: elementName, structure) }

    /// The transforms' element messages so far (`"recv_video_transform: sframe-stats, ..."`).
    public var transformMessages: [String] { peers.transformMessages }

    /// ERROR and WARNING messages and signalling failures, in order.
    public var errors: [String] { peers.errors }

    public var hasFailed: Bool { peers.hasFailed }

    /// Sets the pipeline to NULL. Idempotent; deinit calls it.
    public func stop() { peers.stop() }
}
