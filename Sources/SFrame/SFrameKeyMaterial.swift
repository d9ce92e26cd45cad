import OpenSSLCrypto

/// The key and salt SFrame derives from a base key for one key id (RFC 9605 section 4.4.2):
/// `secret = HKDF-Extract("", base_key)`,
/// `key = HKDF-Expand(secret, "SFrame 1.0 Secret key " || KID (8 bytes) || suite (2 bytes), Nk)`,
/// `salt` likewise with "SFrame 1.0 Secret salt ", Nn bytes.
///
/// It holds the libcrypto contexts of its key (set up once here), so frames only set their IV.
/// Its descriptions and mirror name the suite and key id, never the key or salt (a struct
/// without them would print both through reflection).
public struct SFrameKeyMaterial: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let suite: CipherSuite
    public let keyID: UInt64
    let key: [UInt8]
    public let salt: [UInt8]
    let cipher: SFrameCipher

    public init(suite: CipherSuite, keyID: UInt64, baseKey: [UInt8]) throws {
        guard !baseKey.isEmpty else { throw SFrameError.invalidArgument("the base key is empty") }
        let hash: HashFunction = suite.usesSHA512 ? .sha512 : .sha256
        let derived: (key: [UInt8], salt: [UInt8])
        do {
            let secret = try HKDF.extract(hash: hash, inputKeyMaterial: baseKey, salt: [])
            derived = (try HKDF.expand(hash: hash, pseudoRandomKey: secret,
                                       info: Self.label("SFrame 1.0 Secret key ", keyID: keyID, suite: suite), count: suite.keyCount),
                       try HKDF.expand(hash: hash, pseudoRandomKey: secret,
                                       info: Self.label("SFrame 1.0 Secret salt ", keyID: keyID, suite: suite), count: suite.nonceCount))
        } catch {
            throw SFrameError.invalidArgument("key derivation failed: \(error)")
        }
        try self.init(suite: suite, keyID: keyID, key: derived.key, salt: derived.salt)
    }

    /// Already-derived key and salt (the known-answer tests' `sframe_key` / `sframe_salt`).
    public init(suite: CipherSuite, keyID: UInt64, key: [UInt8], salt: [UInt8]) throws {
        guard key.count == suite.keyCount, salt.count == suite.nonceCount else {
            throw SFrameError.invalidArgument("\(suite) needs a \(suite.keyCount)-byte key and a \(suite.nonceCount)-byte salt")
        }
        self.suite = suite
        self.keyID = keyID
        self.key = key
        self.salt = salt
        do {
            cipher = try SFrameCipher(suite: suite, key: key)
        } catch {
            throw SFrameError.invalidArgument("\(suite): the key was refused: \(error)")
        }
    }

    public var description: String { "SFrameKeyMaterial(\(suite), key-id: \(keyID), key and salt <redacted>)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["suite": suite, "keyID": keyID], displayStyle: .struct) }

    /// The derived key bytes (tests compare them with the known answers).
    public var keyBytes: [UInt8] { key }

    static func label(_ prefix: String, keyID: UInt64, suite: CipherSuite) -> [UInt8] {
        Array(prefix.utf8) + SFrameHeader.bigEndian(keyID, count: 8) + SFrameHeader.bigEndian(UInt64(suite.rawValue), count: 2)
    }

    /// `salt XOR counter` (the counter left-padded to Nn bytes).
    func nonce(counter: UInt64) -> [UInt8] {
        var nonce = salt
        nonce.withUnsafeMutableBytes { Self.xorCounter(counter, into: $0) }
        return nonce
    }

    /// Calls `body` with `salt XOR counter` in a stack buffer (no allocation per frame).
    func withNonce<R>(counter: UInt64, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var bytes: (UInt64, UInt32) = (0, 0)  // 12 bytes
        return try withUnsafeMutableBytes(of: &bytes) { buffer in
            let nonce = UnsafeMutableRawBufferPointer(rebasing: buffer[..<12])
            salt.withUnsafeBytes { nonce.copyMemory(from: $0) }
            Self.xorCounter(counter, into: nonce)
            return try body(UnsafeRawBufferPointer(nonce))
        }
    }

    private static func xorCounter(_ counter: UInt64, into nonce: UnsafeMutableRawBufferPointer) {
        let tail = nonce.count - 8
        for index in 0..<8 { nonce[tail + index] ^= UInt8(truncatingIfNeeded: counter >> (56 - 8 * index)) }
    }
}

/// The AEAD of a suite with its libcrypto contexts: AES-GCM, or AES-CTR with `enc_key =
/// key[..Nka]` and an HMAC keyed once with `auth_key = key[Nka..]` (RFC 9605 section 4.5.1).
enum SFrameCipher: Sendable {
    case gcm(AESGCM)
    case ctrHmac(AESCTR, HMAC)

    init(suite: CipherSuite, key: [UInt8]) throws {
        switch suite.construction {
        case .gcm:
            self = .gcm(try AESGCM(key: key))
        case .ctrHmac:
            let split = suite.aesKeyCount
            self = .ctrHmac(try AESCTR(key: Array(key[..<split])),
                            try HMAC(hash: suite.usesSHA512 ? .sha512 : .sha256, key: Array(key[split...])))
        }
    }
}
