import EncodedStreams
import MediaStreams
import SFrame

/// End-to-end encryption of encoded frames with SFrame (RFC 9605): the web's SFrameTransform
/// for `rtpscripttransform`. On the send side every frame becomes
/// `clear codec bytes || SFrame(header || ciphertext || tag)`, on the receive side the reverse.
///
/// The clear codec bytes are those GStreamer's payloaders parse (`ClearBytesPolicy`); they are
/// authenticated as SFrame metadata (the AEAD's additional data), normalised for H.264/H.265
/// (`FrameLayout.authenticatedClearBytes`). H.264/H.265 ciphertext is escaped so that it holds
/// no start code. G.711 and G.722 are refused: their payloaders cut audio by packet time, so
/// the receiver would not get whole SFrame frames.
///
/// Fails closed: a sender without a key drops its frames; a receiver passes only frames that
/// authenticated, counts the others by kind and reports them (`EncryptionFailureLog`).
final class SFrameTransform: EncodedFrameTransformer {
    struct Configuration {
        var suite = CipherSuite.aes128GcmSha256_128
        var policy = ClearBytesPolicy.gstreamer
        var initialKeys: [SFrameKeyInput] = []
        /// Video receivers drop frames that decrypt after a failure until a key frame arrives,
        /// so the decoder never predicts from a picture it did not get.
        var waitsForKeyFrame = true
        var detectsReplays = true
    }

    private let configuration: Configuration
    private let sender = SFrameSender(counterStart: .clock)
    private let receiver: SFrameReceiver
    private var side = TransformSide.send
    private var failures = EncryptionFailureLog(messageName: "sframe-error", keyField: "key-id")
    private var protectedCount: UInt64 = 0
    private var unprotectedCount: UInt64 = 0
    private var keyFrames: KeyFrameGate

    init(configuration: Configuration) {
        self.configuration = configuration
        receiver = SFrameReceiver(detectsReplays: configuration.detectsReplays)
        keyFrames = KeyFrameGate(holdsDeltas: configuration.waitsForKeyFrame)
    }

    /// From `worker="sframe suite=... clear=..."` and the element's `options` (keys).
    convenience init(parameters: TransformParameters, options: TransformMessage) throws {
        var configuration = SFrameTransform.Configuration()
        let suiteName = parameters.string("suite") ?? configuration.suite.description
        guard let suite = CipherSuite(name: suiteName) else {
            throw TransformSpecError("transform 'sframe': suite=\(SecretRedaction.shown(suiteName, of: "suite")) is not an SFrame cipher suite; use one of \(CipherSuite.allCases.map { "\($0) (0x000\($0.rawValue))" }.joined(separator: ", "))")
        }
        configuration.suite = suite
        let policy = try parameters.choice("clear", default: ClearBytesPolicy.gstreamer.rawValue, among: ClearBytesPolicy.allCases.map(\.rawValue))
        configuration.policy = ClearBytesPolicy(rawValue: policy)!
        configuration.waitsForKeyFrame = try parameters.choice("wait-for-key-frame", default: "true", among: ["true", "false"]) == "true"
        configuration.detectsReplays = try parameters.choice("replay-window", default: "true", among: ["true", "false"]) == "true"
        configuration.initialKeys = try SFrameOptionKeys(options).keys
        self.init(configuration: configuration)
    }

    var supportedCodecs: Set<EncodedCodec>? { Set(EncodedCodec.allCases).subtracting([.pcmu, .pcma, .g722]) }

    func start(controller: EncodedTransformController) throws {
        side = controller.side
        if side == .send, configuration.initialKeys.count > 1 {
            throw SFrameConfigurationError("options: a sender encrypts with one key; give key and key-id (keys= is for receivers)")
        }
        for key in configuration.initialKeys { try install(key) }
    }

    func transform(_ frame: EncodedFrame, controller: EncodedTransformController) throws {
        if side == .send {
            try protect(frame, controller: controller)
        } else {
            try unprotect(frame, controller: controller)
        }
    }

    func flush(controller: EncodedTransformController) throws {
        failures.reportDue(controller: controller, force: true)
    }

    // MARK: Keys

    func receive(message: TransformMessage, controller: EncodedTransformController) throws {
        guard let command = try SFrameKeyCommand(message) else { return }
        switch command {
        case .set(let key):
            try install(key)
        case .add(let key):
            guard side == .receive else {
                throw SFrameConfigurationError("add-key is for receivers (they hold several keys); a sender switches keys with set-key")
            }
            try install(key)
        case .remove(let keyID):
            guard side == .receive else {
                throw SFrameConfigurationError("remove-key is for receivers; a sender switches keys with set-key")
            }
            receiver.removeKey(keyID)
        case .stats:
            controller.postMessage(statistics())
            return
        }
        controller.postMessage(keyState())
        // A rotation that brings the key of frames we could not decrypt: ask for a key frame
        // now rather than waiting for the encoder's next one.
        if side == .receive { keyFrames.keyChanged(controller: controller) }
    }

    /// The sender's key (from now on), or one more key of the receiver.
    private func install(_ key: SFrameKeyInput) throws {
        let material = try SFrameKeyMaterial(suite: configuration.suite, keyID: key.keyID, baseKey: key.baseKey)
        if side == .send {
            sender.setKey(material)
        } else {
            receiver.addKey(material)
        }
    }

    /// `sframe-keys`: the keys now in use, after every key change.
    private func keyState() -> TransformMessage {
        var message = TransformMessage("sframe-keys", ["side": .string(side.rawValue)])
        if side == .send {
            if let keyID = sender.keyID { message["key-id"] = .uint(UInt(keyID)) }
        } else {
            message["key-ids"] = .string(receiver.keyIDs.map(String.init).joined(separator: ","))
        }
        return message
    }

    /// `sframe-stats`: the reply to `get-stats`.
    private func statistics() -> TransformMessage {
        var message = keyState()
        message.name = "sframe-stats"
        message["cipher-suite"] = .string(configuration.suite.description)
        if side == .send {
            message["encrypted"] = .uint(UInt(protectedCount))
            for kind in ["no-key", "counter-exhausted"] { message[kind] = .uint(UInt(failures.total(kind))) }
        } else {
            message["decrypted"] = .uint(UInt(unprotectedCount))
            for kind in ["authentication", "keyID", "syntax", "replay"] { message[kind] = .uint(UInt(failures.total(kind))) }
            message["dropped-awaiting-key-frame"] = .uint(UInt(keyFrames.heldBack))
            message["key-frame-requests"] = .uint(UInt(keyFrames.requests))
        }
        return message
    }

    // MARK: Send side

    private func protect(_ frame: EncodedFrame, controller: EncodedTransformController) throws {
        guard sender.hasKey else {
            failures.record(kind: SFrameError.noKey.kind, reason: SFrameError.noKey.description, key: nil, controller: controller)
            frame.close()
            return
        }
        let codec = frame.codec
        do {
            let layout = try frame.withUnsafeBytes { bytes in
                let layout = FrameLayout.of(bytes, codec: codec, policy: configuration.policy)
                if layout.escapesBody, layout.clearCount == bytes.count {
                    throw SFrameError.syntax("a \(codec.mimeType) access unit without a slice cannot be protected (nothing to encrypt)")
                }
                return layout
            }
            let clearCount = layout.clearCount
            if layout.escapesBody {
                // H.264/H.265: the escaped size depends on the ciphertext, so it is sealed first.
                let sealed = try frame.withUnsafeBytes { bytes in
                    try withAuthenticatedClearBytes(UnsafeRawBufferPointer(rebasing: bytes[..<clearCount]), codec: codec) { metadata in
                        try sender.protect(UnsafeRawBufferPointer(rebasing: bytes[clearCount...]), metadata: metadata)
                    }
                }
                try sealed.withUnsafeBytes { sealed in
                    try frame.rewrite(count: clearCount + H26xEscaping.escapedCount(sealed)) { input, output in
                        output.copyMemory(from: UnsafeRawBufferPointer(rebasing: input[..<clearCount]))
                        H26xEscaping.escape(sealed, into: UnsafeMutableRawBufferPointer(rebasing: output[clearCount...]))
                    }
                }
            } else {
                // Everything else: header, ciphertext and tag written once, into the new memory.
                let sealedCount = try sender.protectedCount(plaintextCount: frame.byteCount - clearCount)
                try frame.rewrite(count: clearCount + sealedCount) { input, output in
                    let clear = UnsafeRawBufferPointer(rebasing: input[..<clearCount])
                    output.copyMemory(from: clear)
                    try sender.protect(UnsafeRawBufferPointer(rebasing: input[clearCount...]), metadata: clear,
                                       into: UnsafeMutableRawBufferPointer(rebasing: output[clearCount...]))
                }
            }
        } catch let error as SFrameError {
            failures.record(kind: error.kind, reason: error.description, key: sender.keyID, controller: controller)
            frame.close()
            return
        }
        protectedCount += 1
        failures.reportDue(controller: controller)
        try controller.enqueue(frame)
    }

    // MARK: Receive side

    private func unprotect(_ frame: EncodedFrame, controller: EncodedTransformController) throws {
        let codec = frame.codec
        var keyID: UInt64?
        // The key id, for the report: read again only for refused frames.
        @discardableResult func noting<R>(_ sealed: UnsafeRawBufferPointer, _ body: () throws -> R) throws -> R {
            do {
                return try body()
            } catch {
                keyID = try? SFrameHeader.decode(sealed).0.keyID
                throw error
            }
        }
        do {
            let escaped = codec == .h264 || codec == .h265
            // One read of the frame for its layout and (unescaped codecs) the plaintext's size.
            let (clearCount, plainCount) = try frame.withUnsafeBytes { bytes -> (Int, Int) in
                let layout = FrameLayout.of(bytes, codec: codec, policy: configuration.policy)
                guard layout.clearCount < bytes.count else {
                    throw SFrameError.syntax("a \(bytes.count)-byte \(codec.mimeType) frame has no SFrame payload after its \(layout.clearCount) clear bytes")
                }
                guard !escaped else { return (layout.clearCount, 0) }
                let sealed = UnsafeRawBufferPointer(rebasing: bytes[layout.clearCount...])
                return (layout.clearCount, try noting(sealed) { try receiver.plaintextCount(of: sealed) })
            }
            if escaped {
                let unescaped = try frame.withUnsafeBytes { bytes in
                    guard let unescaped = H26xEscaping.unescape(UnsafeRawBufferPointer(rebasing: bytes[clearCount...])) else {
                        throw SFrameError.syntax("the encrypted part of a \(codec.mimeType) frame is not escaped (no 0x80 trailer, or a start code inside): not protected by sframe, or clear= differs between the ends")
                    }
                    return unescaped
                }
                try unescaped.withUnsafeBytes { sealed in
                    let count = try noting(sealed) { try receiver.plaintextCount(of: sealed) }
                    try frame.rewrite(count: clearCount + count) { input, output in
                        let clear = UnsafeRawBufferPointer(rebasing: input[..<clearCount])
                        output.copyMemory(from: clear)
                        try withAuthenticatedClearBytes(clear, codec: codec) { metadata in
                            try noting(sealed) {
                                try receiver.unprotect(sealed, metadata: metadata, into: UnsafeMutableRawBufferPointer(rebasing: output[clearCount...]))
                            }
                        }
                    }
                }
            } else {
                try frame.rewrite(count: clearCount + plainCount) { input, output in
                    let clear = UnsafeRawBufferPointer(rebasing: input[..<clearCount])
                    let sealed = UnsafeRawBufferPointer(rebasing: input[clearCount...])
                    output.copyMemory(from: clear)
                    try noting(sealed) {
                        try receiver.unprotect(sealed, metadata: clear, into: UnsafeMutableRawBufferPointer(rebasing: output[clearCount...]))
                    }
                }
            }
        } catch let error as SFrameError {
            failures.record(kind: error.kind, reason: error.description, key: keyID, controller: controller)
            keyFrames.refused(codec)
            frame.close()
            return
        }
        unprotectedCount += 1
        failures.reportDue(controller: controller)
        guard keyFrames.admits(frame, controller: controller) else {
            frame.close()
            return
        }
        try controller.enqueue(frame)
    }

    /// The clear bytes as SFrame authenticates them: as they are, or normalised for H.264/H.265.
    @discardableResult
    private func withAuthenticatedClearBytes<R>(_ clear: UnsafeRawBufferPointer, codec: EncodedCodec,
                                                _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard codec == .h264 || codec == .h265 else { return try body(clear) }
        return try FrameLayout.authenticatedClearBytes(clear, codec: codec).withUnsafeBytes(body)
    }
}
