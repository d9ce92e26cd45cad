import EncodedStreams
import FrameCryptor
import MediaStreams

/// End-to-end encryption in the frame format of LiveKit and Jitsi (`framecryptor`): on the
/// send side every frame becomes `clear || AES-GCM(key, iv, aad = clear, rest) || iv || 12 ||
/// key index`, on the receive side the reverse (FrameCryptor does the work; this class wires
/// it to the element: keys, messages, counts, reports).
///
/// Fails closed: a sender without a key drops its frames; a receiver passes on only frames that
/// authenticated (and LiveKit's server-injected blank frames, when a `sif-trailer` is set and
/// the frame is one of the known blanks), counts the others by kind and reports them.
final class FrameCryptorTransform: EncodedFrameTransformer {
    private let cryptor: FrameCryptor
    private let initialKey: FrameCryptorKeyInput?
    private var side = TransformSide.send
    private var failures = EncryptionFailureLog(messageName: "framecryptor-error", keyField: "key-index")
    private var keyFrames: KeyFrameGate
    private var encryptedCount: UInt64 = 0
    private var decryptedCount: UInt64 = 0
    private var passedEmpty: UInt64 = 0
    private var passedServerInjected: UInt64 = 0
    private var ratchetsAdopted: UInt64 = 0

    static let parameters = [
        TransformParameterInfo("profile", "frame format and key rules: livekit (default; LiveKit SDKs, Element Call) or jitsi (Jitsi Meet)"),
        TransformParameterInfo("ratchet-salt", "LiveKit's ratchetSalt: the salt of key derivation and ratchet (default LKFrameEncryptionKey)"),
        TransformParameterInfo("ratchet-window-size", "ratchet steps a receiver tries on a frame that does not decrypt, 0-256 (default 8)"),
        TransformParameterInfo("failure-tolerance", "failures per key index before its frames are dropped untried, -1 (never) to 1000000 (default 10 for livekit, -1 for jitsi)"),
        TransformParameterInfo("key-ring-size", "key slots, 1-256 (default 16)"),
        TransformParameterInfo("sif-trailer", "LiveKit's server-injected-frame trailer (hexadecimal, from the join response); frames ending in it pass only if they are a known blank frame"),
        TransformParameterInfo("iv", "sender IVs: sdk (default; ssrc, RTP timestamp and a frame count, as the LiveKit SDKs) or random (12 random bytes)"),
        TransformParameterInfo("wait-for-key-frame", "video receivers drop frames after a refused frame until a key frame decrypts, and ask for one: true (default) or false"),
    ]

    init(configuration: FrameCryptorConfiguration, initialKey: FrameCryptorKeyInput?, waitsForKeyFrame: Bool) throws {
        cryptor = try FrameCryptor(configuration: configuration)
        self.initialKey = initialKey
        keyFrames = KeyFrameGate(holdsDeltas: waitsForKeyFrame)
    }

    /// From `worker="framecryptor profile=..."` and the element's `options` (keys).
    convenience init(parameters: TransformParameters, options: TransformMessage) throws {
        var configuration = FrameCryptorConfiguration()
        let profile = try parameters.choice("profile", default: FrameCryptorProfile.livekit.rawValue,
                                            among: FrameCryptorProfile.allCases.map(\.rawValue))
        configuration.profile = FrameCryptorProfile(rawValue: profile)!
        if let salt = parameters.string("ratchet-salt") {
            guard !salt.isEmpty else { throw FrameCryptorConfigurationError("ratchet-salt is empty; leave it out for LKFrameEncryptionKey") }
            configuration.ratchetSalt = Array(salt.utf8)
        }
        configuration.ratchetWindowSize = try parameters.integer("ratchet-window-size", default: configuration.profile.defaultRatchetWindowSize, range: 0...256)
        configuration.failureTolerance = try parameters.integer("failure-tolerance", default: configuration.profile.defaultFailureTolerance, range: -1...1_000_000)
        configuration.keyRingSize = try parameters.integer("key-ring-size", default: 16, range: FrameKeyRing.sizes)
        if let trailer = parameters.string("sif-trailer") {
            guard let bytes = TransformMessage("sif", ["trailer": .string(trailer)]).bytes("trailer"), !bytes.isEmpty else {
                throw FrameCryptorConfigurationError("sif-trailer must be hexadecimal digits (an even number of 0-9, a-f), as the join response gives it")
            }
            configuration.sifTrailer = bytes
        }
        let iv = try parameters.choice("iv", default: FrameCryptorConfiguration.IVRule.sdk.rawValue,
                                       among: FrameCryptorConfiguration.IVRule.allCases.map(\.rawValue))
        configuration.ivRule = FrameCryptorConfiguration.IVRule(rawValue: iv)!
        let waits = try parameters.choice("wait-for-key-frame", default: "true", among: ["true", "false"]) == "true"
        var initialKey: FrameCryptorKeyInput?
        if options["passphrase"] != nil || options["key"] != nil {
            initialKey = try FrameCryptorKeyInput.parse(options, context: "options")
        } else if options["key-index"] != nil {
            throw FrameCryptorConfigurationError("options: key-index is given without passphrase= or key=")
        }
        try self.init(configuration: configuration, initialKey: initialKey, waitsForKeyFrame: waits)
    }

    /// G.711 and G.722 are refused: their payloaders cut audio by packet time, so the receiver
    /// would not get whole frames.
    var supportedCodecs: Set<EncodedCodec>? { Set(EncodedCodec.allCases).subtracting([.pcmu, .pcma, .g722]) }

    func start(controller: EncodedTransformController) throws {
        side = controller.side
        if let initialKey { try install(initialKey) }
    }

    func transform(_ frame: EncodedFrame, controller: EncodedTransformController) throws {
        if side == .send {
            try encrypt(frame, controller: controller)
        } else {
            try decrypt(frame, controller: controller)
        }
    }

    func flush(controller: EncodedTransformController) throws {
        failures.reportDue(controller: controller, force: true)
    }

    // MARK: Keys

    func receive(message: TransformMessage, controller: EncodedTransformController) throws {
        guard let command = try FrameCryptorCommand(message) else { return }
        switch command {
        case .set(let key):
            try install(key)
        case .ratchet(let index):
            do {
                try cryptor.ratchetKey(index: index)
            } catch let error as FrameCryptorError {
                throw FrameCryptorConfigurationError("ratchet-key: \(error)")
            }
        case .stats:
            controller.postMessage(statistics())
            return
        }
        controller.postMessage(keyState())
        if side == .receive { keyFrames.keyChanged(controller: controller) }
    }

    private func install(_ key: FrameCryptorKeyInput) throws {
        do {
            try cryptor.setKey(key.material, index: key.keyIndex)
        } catch let error as FrameCryptorError {
            throw FrameCryptorConfigurationError("\(error)")
        }
    }

    /// `framecryptor-keys`: the key slots now filled (never their contents), after every change.
    private func keyState() -> TransformMessage {
        TransformMessage("framecryptor-keys", [
            "side": .string(side.rawValue),
            "profile": .string(cryptor.configuration.profile.rawValue),
            "key-index": .int(cryptor.keys.currentIndex),
            "key-indices": .string(cryptor.keys.filledIndices.map(String.init).joined(separator: ",")),
        ])
    }

    /// `framecryptor-stats`: the reply to `get-stats`.
    private func statistics() -> TransformMessage {
        var message = keyState()
        message.name = "framecryptor-stats"
        message["empty-passed"] = .uint(UInt(passedEmpty))
        if side == .send {
            message["encrypted"] = .uint(UInt(encryptedCount))
            for kind in ["no-key", "syntax"] { message[kind] = .uint(UInt(failures.total(kind))) }
        } else {
            message["decrypted"] = .uint(UInt(decryptedCount))
            message["ratchets-adopted"] = .uint(UInt(ratchetsAdopted))
            message["server-injected-passed"] = .uint(UInt(passedServerInjected))
            for kind in ["authentication", "missing-key", "key-invalidated", "syntax", "iv-length", "escaping", "server-injected"] {
                message[kind] = .uint(UInt(failures.total(kind)))
            }
            message["dropped-awaiting-key-frame"] = .uint(UInt(keyFrames.heldBack))
            message["key-frame-requests"] = .uint(UInt(keyFrames.requests))
        }
        return message
    }

    // MARK: Frames

    private func encrypt(_ frame: EncodedFrame, controller: EncodedTransformController) throws {
        let codec = frame.codec
        let info = frame.streamInfo
        let rtpTimestamp = info.rtpTimestamp ?? Self.rtpTimestamp(frame)
        do {
            let plan = try frame.withUnsafeBytes { bytes in
                try cryptor.prepareEncryption(bytes, codec: Self.codec(codec), isKeyFrame: Self.isKeyFrame(frame, bytes),
                                              ssrc: info.synchronizationSource ?? 0, rtpTimestamp: rtpTimestamp)
            }
            if let plan {
                try frame.rewrite(count: plan.outputCount) { input, output in try cryptor.write(plan, frame: input, into: output) }
                encryptedCount += 1
            } else {
                passedEmpty += 1
            }
        } catch let error as FrameCryptorError {
            failures.record(kind: error.kind, reason: error.description, key: error.keyIndex.map(UInt64.init), controller: controller)
            frame.close()
            return
        }
        failures.reportDue(controller: controller)
        try controller.enqueue(frame)
    }

    private func decrypt(_ frame: EncodedFrame, controller: EncodedTransformController) throws {
        let codec = frame.codec
        var steps = 0
        var keyIndex: Int?
        do {
            let plan = try frame.withUnsafeBytes { bytes in
                try cryptor.prepareDecryption(bytes, codec: Self.codec(codec), isKeyFrame: Self.isKeyFrame(frame, bytes))
            }
            if let plan {
                keyIndex = plan.isServerInjected ? nil : plan.keyIndex
                try frame.rewrite(count: plan.outputCount) { input, output in steps = try cryptor.write(plan, frame: input, into: output) }
                if plan.isServerInjected { passedServerInjected += 1 } else { decryptedCount += 1 }
            } else {
                passedEmpty += 1
            }
        } catch let error as FrameCryptorError {
            failures.record(kind: error.kind, reason: error.description, key: (error.keyIndex ?? keyIndex).map(UInt64.init), controller: controller)
            keyFrames.refused(codec)
            frame.close()
            return
        }
        if steps > 0, let keyIndex {
            ratchetsAdopted += 1
            controller.postMessage(TransformMessage("framecryptor-ratchet", ["key-index": .int(keyIndex), "steps": .int(steps)]))
        }
        failures.reportDue(controller: controller)
        guard keyFrames.admits(frame, controller: controller) else {
            frame.close()
            return
        }
        try controller.enqueue(frame)
    }

    private static func codec(_ codec: EncodedCodec) -> FrameCryptorCodec {
        switch codec {
        case .vp8: .vp8
        case .vp9: .vp9
        case .av1: .av1
        case .h264: .h264
        case .h265: .h265
        case .opus, .pcmu, .pcma, .g722: .audio
        }
    }

    /// VP8: the frame tag's key-frame bit (both ends see it clear); other video: the frame's
    /// type (GStreamer's delta-unit flag).
    private static func isKeyFrame(_ frame: EncodedFrame, _ bytes: UnsafeRawBufferPointer) -> Bool {
        if frame.codec == .vp8 { return bytes.count > 0 && bytes[0] & 1 == 0 }
        return (frame as? EncodedVideoFrame)?.type == .key
    }

    /// The RTP timestamp when the element does not know it: the frame's PTS on the codec's clock.
    private static func rtpTimestamp(_ frame: EncodedFrame) -> UInt32 {
        let rate: UInt64 = frame.codec.kind == .video ? 90_000 : 48_000
        let pts = frame.pts ?? 0
        return UInt32(truncatingIfNeeded: pts / 1000 * rate / 1_000_000)
    }
}
