import OpenSSLCrypto

/// What `framecryptor` is configured with (the worker's parameters), apart from keys.
public struct FrameCryptorConfiguration: Sendable {
    public var profile: FrameCryptorProfile = .livekit
    /// LiveKit's `ratchetSalt` (default `LKFrameEncryptionKey`); Jitsi ignores it.
    public var ratchetSalt: [UInt8]? = nil
    /// Ratchet steps a receiver tries on a frame that does not decrypt (0 disables).
    public var ratchetWindowSize: Int? = nil
    /// Failures per key index before its frames are dropped untried; -1 never.
    public var failureTolerance: Int? = nil
    /// Key slots (1-256).
    public var keyRingSize = 16
    /// LiveKit's server-injected-frame trailer (announced at join), if any.
    public var sifTrailer: [UInt8]? = nil
    /// How senders choose IVs.
    public var ivRule: IVRule = .sdk

    public enum IVRule: String, Sendable, CaseIterable {
        /// As the SDKs' senders: `BE32(ssrc) || BE32(rtpTimestamp) || BE32(rtpTimestamp -
        /// sendCount mod 0xFFFF)` (LiveKit) or `... || BE32(sendCount mod 0xFFFF)` (Jitsi), the
        /// count per SSRC from a random start.
        case sdk
        /// 12 random bytes per frame (as LiveKit's Go SDK): no structure to rely on.
        case random
    }

    public init() {}

    public var windowSize: Int { ratchetWindowSize ?? profile.defaultRatchetWindowSize }
    public var tolerance: Int { failureTolerance ?? profile.defaultFailureTolerance }
}

/// LiveKit / Jitsi frame encryption for one stream (no GStreamer): `clear || AES-GCM(key, iv,
/// aad = clear, rest) || iv (12) || 12 || keyIndex`. Not thread-safe: it belongs to one
/// stream's worker.
public final class FrameCryptor: @unchecked Sendable {
    public static let ivCount = 12
    public static let trailerCount = 2
    /// Tag, IV and trailer: what encryption adds (before escaping).
    public static let overhead = AESGCM.tagCount + ivCount + trailerCount

    public let configuration: FrameCryptorConfiguration
    public private(set) var keys: FrameKeyRing
    private var sendCounts: [UInt32: UInt32] = [:]

    public init(configuration: FrameCryptorConfiguration) throws {
        self.configuration = configuration
        keys = try FrameKeyRing(size: configuration.keyRingSize,
                                derivation: FrameKeyDerivation(profile: configuration.profile, ratchetSalt: configuration.ratchetSalt))
    }

    public func setKey(_ material: FrameKeyMaterial, index: Int) throws { try keys.setKey(material, index: index) }
    public func ratchetKey(index: Int) throws { try keys.ratchet(index: index) }

    // MARK: Send

    /// How one frame is encrypted: its layout and the size of the result.
    public struct Encryption {
        let clearCount: Int
        let keyIndex: Int
        let cipher: AESGCM
        var iv: (UInt64, UInt32)
        /// H.264/H.265: ciphertext || tag || iv || trailer, sealed already (the escaped size
        /// depends on it); nil when `write` seals straight into the output.
        let sealedBody: [UInt8]?
        public let outputCount: Int
    }

    /// Plans the encryption of `frame` (nil: an empty frame, passed through unchanged).
    public func prepareEncryption(_ frame: UnsafeRawBufferPointer, codec: FrameCryptorCodec, isKeyFrame: Bool,
                                  ssrc: UInt32, rtpTimestamp: UInt32) throws -> Encryption? {
        guard frame.count > 0 else { return nil }
        let index = keys.currentIndex
        guard let slot = keys.slots[index] else { throw FrameCryptorError.noKey(keyIndex: index) }
        let layout = FrameCryptorLayout.of(frame, codec: codec, isKeyFrame: isKeyFrame, profile: configuration.profile)
        if codec == .h264 || codec == .h265, configuration.profile == .livekit {
            try Self.checkSenderLayout(frame, codec: codec, layout: layout)
        }
        var iv: (UInt64, UInt32) = (0, 0)
        try withUnsafeMutableBytes(of: &iv) { try nextIV(ssrc: ssrc, rtpTimestamp: rtpTimestamp, into: UnsafeMutableRawBufferPointer(rebasing: $0[..<12])) }
        let payloadCount = frame.count - layout.clearCount
        let cipher = slot.keySet.cipher
        guard layout.escapes else {
            return Encryption(clearCount: layout.clearCount, keyIndex: index, cipher: cipher, iv: iv, sealedBody: nil,
                              outputCount: layout.clearCount + payloadCount + Self.overhead)
        }
        var body = [UInt8](repeating: 0, count: payloadCount + Self.overhead)
        try body.withUnsafeMutableBytes { body in
            try Self.seal(frame, clearCount: layout.clearCount, cipher: cipher, iv: iv, keyIndex: index, into: body)
        }
        let escapedCount = body.withUnsafeBytes { RBSPEscaping.escapedCount($0) }
        return Encryption(clearCount: layout.clearCount, keyIndex: index, cipher: cipher, iv: iv, sealedBody: body,
                          outputCount: layout.clearCount + escapedCount)
    }

    /// H.264/H.265 frames whose clear bytes a receiver could not find again (found by
    /// fuzzing; encoders write neither): a frame that begins 00 00 without any slice NAL unit
    /// (the receiver may find one in the ciphertext), or a slice NAL unit that ends at its header (the layout's
    /// byte after the header would be the first encrypted byte). Refused, not sent.
    private static func checkSenderLayout(_ frame: UnsafeRawBufferPointer, codec: FrameCryptorCodec, layout: FrameCryptorLayout) throws {
        if layout.escapes {
            guard layout.clearCount == frame.count, let header = NALUnits.firstSliceHeader(in: frame, codec: codec),
                  header + 2 > frame.count else { return }
            throw FrameCryptorError.syntax("a \(frame.count)-byte \(codec.rawValue) frame ends inside the header of its first slice: not encrypted")
        }
        // Receivers look for slices in frames that begin 00 00 (a start code, maybe completed
        // by the encrypted bytes that follow).
        guard frame.count >= 2, frame[0] == 0, frame[1] == 0 else { return }
        throw FrameCryptorError.syntax("a \(frame.count)-byte \(codec.rawValue) frame has no slice NAL unit: not encrypted")
    }

    /// Writes the encrypted frame into `output` (`encryption.outputCount` bytes).
    public func write(_ encryption: Encryption, frame: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws {
        let clearCount = encryption.clearCount
        output.copyMemory(from: UnsafeRawBufferPointer(rebasing: frame[..<clearCount]))
        let rest = UnsafeMutableRawBufferPointer(rebasing: output[clearCount...])
        if let body = encryption.sealedBody {
            body.withUnsafeBytes { RBSPEscaping.escape($0, into: rest) }
        } else {
            try Self.seal(frame, clearCount: clearCount, cipher: encryption.cipher, iv: encryption.iv, keyIndex: encryption.keyIndex, into: rest)
        }
    }

    /// ciphertext || tag || iv || 12 || keyIndex of `frame[clearCount...]` into `output`.
    private static func seal(_ frame: UnsafeRawBufferPointer, clearCount: Int, cipher: AESGCM, iv: (UInt64, UInt32), keyIndex: Int,
                             into output: UnsafeMutableRawBufferPointer) throws {
        let payload = UnsafeRawBufferPointer(rebasing: frame[clearCount...])
        let sealedCount = payload.count + AESGCM.tagCount
        var iv = iv
        try withUnsafeBytes(of: &iv) { ivBytes in
            let iv = UnsafeRawBufferPointer(rebasing: ivBytes[..<ivCount])
            do {
                try cipher.seal(payload, iv: iv, aad: UnsafeRawBufferPointer(rebasing: frame[..<clearCount]),
                                into: UnsafeMutableRawBufferPointer(rebasing: output[..<sealedCount]))
            } catch {
                throw FrameCryptorError.syntax("encryption failed: \(error)")
            }
            UnsafeMutableRawBufferPointer(rebasing: output[sealedCount..<(sealedCount + ivCount)]).copyMemory(from: iv)
        }
        output[sealedCount + ivCount] = UInt8(ivCount)
        output[sealedCount + ivCount + 1] = UInt8(keyIndex)
    }

    /// H.264/H.265 key frames: GStreamer's depayloaders put the parameter sets of the caps in
    /// front of the ones the sender's access unit carried, so the received clear bytes (the
    /// additional data) can begin with NAL units the sender never authenticated. The sender's
    /// clear bytes are then a tail of the received ones starting at a start code: each such
    /// tail is tried (a few AES-GCM attempts, on key frames only; the frame still has to
    /// authenticate, so nothing unauthenticated gets through).
    private func openWithSenderParameterSets(_ sealed: UnsafeRawBufferPointer, iv: UnsafeRawBufferPointer, clear: UnsafeRawBufferPointer,
                                             keySet: FrameKeySet, into plaintext: UnsafeMutableRawBufferPointer) throws -> Bool {
        var searchFrom = 1
        while let unit = NALUnits.nextUnit(in: clear, from: searchFrom) {
            searchFrom = unit
            // The tail from this NAL unit's start code, written with 4 bytes as encoders do.
            var tail: [UInt8] = [0, 0, 0, 1]
            tail.append(contentsOf: UnsafeRawBufferPointer(rebasing: clear[unit...]))
            let opened = try tail.withUnsafeBytes { aad in
                do {
                    try keySet.cipher.open(sealed, iv: iv, aad: aad, into: plaintext)
                    return true
                } catch CryptoError.authenticationFailed {
                    return false
                }
            }
            if opened { return true }
        }
        return false
    }

    private func nextIV(ssrc: UInt32, rtpTimestamp: UInt32, into iv: UnsafeMutableRawBufferPointer) throws {
        switch configuration.ivRule {
        case .random:
            try SecureRandom.fill(iv)
        case .sdk:
            // The count per SSRC starts at a random value, as client-sdk-js and lib-jitsi-meet do.
            let sendCount = try sendCounts[ssrc] ?? (SecureRandom.uint32() % 0xFFFF)
            sendCounts[ssrc] = sendCount &+ 1
            iv.storeBytes(of: ssrc.bigEndian, toByteOffset: 0, as: UInt32.self)
            iv.storeBytes(of: rtpTimestamp.bigEndian, toByteOffset: 4, as: UInt32.self)
            // LiveKit: the timestamp minus the count; Jitsi: the count alone.
            let third = configuration.profile == .livekit ? rtpTimestamp &- sendCount % 0xFFFF : sendCount % 0xFFFF
            iv.storeBytes(of: third.bigEndian, toByteOffset: 8, as: UInt32.self)
        }
    }

    // MARK: Receive

    /// How one received frame is opened.
    public struct Decryption {
        enum Source {
            /// ciphertext || tag || iv || trailer where it is in the frame.
            case inPlace
            /// H.264/H.265 with escapes: the unescaped bytes after the clear ones.
            case unescaped([UInt8])
            /// A server-injected blank frame: the frame without its trailer, passed on.
            case serverInjected
        }
        let clearCount: Int
        /// H.264/H.265 (escaped after the clear bytes).
        let escapes: Bool
        /// The key slot the trailer names (-1 for a server-injected frame).
        public let keyIndex: Int
        let source: Source
        public let outputCount: Int
        /// A server-injected blank frame (not encrypted, recognised as one of the known blanks).
        public var isServerInjected: Bool { if case .serverInjected = source { true } else { false } }
    }

    /// Plans the decryption of `frame`: parses its trailer and layout, finds its key slot
    /// (nil: an empty frame, passed through unchanged). Throws the reason a frame is refused.
    public func prepareDecryption(_ frame: UnsafeRawBufferPointer, codec: FrameCryptorCodec, isKeyFrame: Bool) throws -> Decryption? {
        guard frame.count > 0 else { return nil }
        if let trailer = configuration.sifTrailer, !trailer.isEmpty, frame.count >= trailer.count,
           trailer.withUnsafeBytes({ constantTimeEqual($0, UnsafeRawBufferPointer(rebasing: frame[(frame.count - trailer.count)...])) }) {
            let blank = UnsafeRawBufferPointer(rebasing: frame[..<(frame.count - trailer.count)])
            guard ServerInjectedFrames.isKnownBlank(blank) else {
                throw FrameCryptorError.serverInjected("a \(blank.count)-byte frame ends in the server-injected-frame trailer but is not one of the known blank frames: dropped")
            }
            return Decryption(clearCount: 0, escapes: false, keyIndex: -1, source: .serverInjected, outputCount: blank.count)
        }
        var layout = FrameCryptorLayout.of(frame, codec: codec, isKeyFrame: isKeyFrame, profile: configuration.profile)
        // A frame shorter than its clear bytes (a 5-byte VP8 key frame) was sent all clear:
        // what follows it is the tag, IV and trailer alone (found by fuzzing: such frames did
        // not decrypt).
        if !layout.escapes, frame.count >= Self.overhead, frame.count - Self.overhead < layout.clearCount {
            layout.clearCount = frame.count - Self.overhead
        }
        var source = Decryption.Source.inPlace
        var sealedCount = frame.count - layout.clearCount
        if layout.escapes {
            guard var unescaped = RBSPEscaping.unescape(UnsafeRawBufferPointer(rebasing: frame[layout.clearCount...])) else {
                throw FrameCryptorError.escaping("a start code (00 00 00/01/02) after the clear bytes of a \(codec.rawValue) frame: not escaped as framecryptor escapes")
            }
            // GStreamer's rtph264pay / rtph265pay strip trailing zero bytes of NAL units: a
            // trailer `12, 0` (key index 0) arrives as a final 12. Put the zero back (a frame
            // really naming key index 12 ends `12, 12`, and its slot holds a key).
            if unescaped.last == UInt8(Self.ivCount), unescaped.count < 2 || unescaped[unescaped.count - 2] != UInt8(Self.ivCount) || !keys.hasKey(12) {
                unescaped.append(0)
            }
            if unescaped.count != sealedCount { source = .unescaped(unescaped) }
            sealedCount = unescaped.count
        }
        guard sealedCount >= Self.overhead else {
            throw FrameCryptorError.syntax("a \(frame.count)-byte frame is too short for \(layout.clearCount) clear bytes, a 16-byte tag, a 12-byte IV and the 2-byte trailer")
        }
        let (ivLength, keyIndex): (UInt8, UInt8) = switch source {
        case .unescaped(let bytes): (bytes[bytes.count - 2], bytes[bytes.count - 1])
        default: (frame[frame.count - 2], frame[frame.count - 1])
        }
        guard ivLength == UInt8(Self.ivCount) else { throw FrameCryptorError.ivLength(Int(ivLength)) }
        let index = Int(keyIndex)
        guard index < keys.size else {
            throw FrameCryptorError.syntax("the trailer names key index \(index), outside the key ring (0 to \(keys.size - 1))")
        }
        guard let slot = keys.slots[index] else { throw FrameCryptorError.missingKey(keyIndex: index) }
        guard !slot.invalidated else { throw FrameCryptorError.keyInvalidated(keyIndex: index) }
        return Decryption(clearCount: layout.clearCount, escapes: layout.escapes, keyIndex: index, source: source,
                          outputCount: layout.clearCount + sealedCount - Self.overhead)
    }

    /// Opens the frame into `output` (`decryption.outputCount` bytes), trying the slot's key
    /// and then up to `ratchet-window-size` ratchet steps of it; adopts a ratchet step only
    /// when the frame authenticated with it. Returns the steps taken (0: the key itself).
    @discardableResult
    public func write(_ decryption: Decryption, frame: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> Int {
        let clearCount = decryption.clearCount
        switch decryption.source {
        case .serverInjected:
            output.copyMemory(from: UnsafeRawBufferPointer(rebasing: frame[..<decryption.outputCount]))
            return 0
        case .inPlace:
            return try open(UnsafeRawBufferPointer(rebasing: frame[clearCount...]), decryption, frame, output)
        case .unescaped(let bytes):
            return try bytes.withUnsafeBytes { try open($0, decryption, frame, output) }
        }
    }

    private func open(_ sealedAndTrailer: UnsafeRawBufferPointer, _ decryption: Decryption, _ frame: UnsafeRawBufferPointer,
                      _ output: UnsafeMutableRawBufferPointer) throws -> Int {
        let clearCount = decryption.clearCount
        let index = decryption.keyIndex
        let clear = UnsafeRawBufferPointer(rebasing: frame[..<clearCount])
        output.copyMemory(from: clear)
        let sealedCount = sealedAndTrailer.count - Self.ivCount - Self.trailerCount
        let sealed = UnsafeRawBufferPointer(rebasing: sealedAndTrailer[..<sealedCount])
        let iv = UnsafeRawBufferPointer(rebasing: sealedAndTrailer[sealedCount..<(sealedCount + Self.ivCount)])
        let plaintext = UnsafeMutableRawBufferPointer(rebasing: output[clearCount...])
        func attempt(_ keySet: FrameKeySet) throws -> Bool {
            do {
                try keySet.cipher.open(sealed, iv: iv, aad: clear, into: plaintext)
                return true
            } catch CryptoError.authenticationFailed {
                return false
            } catch {
                throw FrameCryptorError.syntax("decryption failed: \(error)")
            }
        }
        guard let slot = keys.slots[index] else { throw FrameCryptorError.missingKey(keyIndex: index) }
        if try attempt(slot.keySet) {
            keys.succeeded(index: index, step: 0)
            return 0
        }
        if decryption.escapes, try openWithSenderParameterSets(sealed, iv: iv, clear: clear, keySet: slot.keySet, into: plaintext) {
            keys.succeeded(index: index, step: 0)
            return 0
        }
        if configuration.windowSize > 0 {
            for step in 1...configuration.windowSize where try attempt(keys.ratchetStep(step, index: index)) {
                keys.succeeded(index: index, step: step)
                return step
            }
        }
        if keys.failed(index: index, tolerance: configuration.tolerance) {
            throw FrameCryptorError.keyInvalidated(keyIndex: index)
        }
        throw FrameCryptorError.authentication(keyIndex: index)
    }
}
