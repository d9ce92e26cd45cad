import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials  // as SFrameContexts.swift: no ICU in the plugin
#else
import Foundation
#endif

/// The key and salt SFrame derives from a base key for one key id (RFC 9605 section 4.4.2):
/// `secret = HKDF-Extract("", base_key)`,
/// `key = HKDF-Expand(secret, "SFrame 1.0 Secret key " || KID (8 bytes) || suite (2 bytes), Nk)`,
/// `salt` likewise with "SFrame 1.0 Secret salt ", Nn bytes.
public struct SFrameKeyMaterial: Sendable {
    public let suite: CipherSuite
    public let keyID: UInt64
    let key: SymmetricKey
    public let salt: [UInt8]
    /// The CTR+HMAC subkeys, split and keyed once here instead of for every frame (nil for GCM).
    let ctrHmac: CTRHMACKeys?

    public init(suite: CipherSuite, keyID: UInt64, baseKey: [UInt8]) throws {
        guard !baseKey.isEmpty else { throw SFrameError.invalidArgument("the base key is empty") }
        let keyLabel = Self.label("SFrame 1.0 Secret key ", keyID: keyID, suite: suite)
        let saltLabel = Self.label("SFrame 1.0 Secret salt ", keyID: keyID, suite: suite)
        let input = SymmetricKey(data: baseKey)
        let derivedKey: SymmetricKey
        let derivedSalt: SymmetricKey
        if suite.usesSHA512 {
            let secret = HKDF<SHA512>.extract(inputKeyMaterial: input, salt: [UInt8]())
            derivedKey = HKDF<SHA512>.expand(pseudoRandomKey: secret, info: keyLabel, outputByteCount: suite.keyCount)
            derivedSalt = HKDF<SHA512>.expand(pseudoRandomKey: secret, info: saltLabel, outputByteCount: suite.nonceCount)
        } else {
            let secret = HKDF<SHA256>.extract(inputKeyMaterial: input, salt: [UInt8]())
            derivedKey = HKDF<SHA256>.expand(pseudoRandomKey: secret, info: keyLabel, outputByteCount: suite.keyCount)
            derivedSalt = HKDF<SHA256>.expand(pseudoRandomKey: secret, info: saltLabel, outputByteCount: suite.nonceCount)
        }
        self.suite = suite
        self.keyID = keyID
        key = derivedKey
        salt = derivedSalt.withUnsafeBytes { Array($0) }
        ctrHmac = CTRHMACKeys(suite: suite, key: derivedKey)
    }

    /// Already-derived key and salt (the known-answer tests' `sframe_key` / `sframe_salt`).
    public init(suite: CipherSuite, keyID: UInt64, key: [UInt8], salt: [UInt8]) throws {
        guard key.count == suite.keyCount, salt.count == suite.nonceCount else {
            throw SFrameError.invalidArgument("\(suite) needs a \(suite.keyCount)-byte key and a \(suite.nonceCount)-byte salt")
        }
        self.suite = suite
        self.keyID = keyID
        self.key = SymmetricKey(data: key)
        self.salt = salt
        ctrHmac = CTRHMACKeys(suite: suite, key: self.key)
    }

    /// The derived key bytes (tests compare them with the known answers).
    public var keyBytes: [UInt8] { key.withUnsafeBytes { Array($0) } }

    static func label(_ prefix: String, keyID: UInt64, suite: CipherSuite) -> [UInt8] {
        Array(prefix.utf8) + SFrameHeader.bigEndian(keyID, count: 8) + SFrameHeader.bigEndian(UInt64(suite.rawValue), count: 2)
    }

    /// `salt XOR counter` (the counter left-padded to Nn bytes).
    func nonce(counter: UInt64) -> [UInt8] {
        var nonce = salt
        // In place: no temporary array for the counter's bytes (this runs for every frame).
        nonce.withUnsafeMutableBufferPointer { bytes in
            let tail = bytes.count - 8
            for index in 0..<8 { bytes[tail + index] ^= UInt8(truncatingIfNeeded: counter >> (56 - 8 * index)) }
        }
        return nonce
    }
}

/// `enc_key = key[..Nka]` as an AES key and `auth_key = key[Nka..]` as an HMAC already keyed
/// with it (RFC 9605 section 4.5.1). Copying the keyed HMAC per frame skips re-deriving the
/// padded key blocks and hashing them, which HMAC(key:) does every time.
struct CTRHMACKeys: Sendable {
    enum Authenticator: Sendable {
        case sha256(HMAC<SHA256>)
        case sha512(HMAC<SHA512>)
    }

    let encryptionKey: SymmetricKey
    let authenticator: Authenticator

    init?(suite: CipherSuite, key: SymmetricKey) {
        guard suite.construction == .ctrHmac else { return nil }
        let split = suite.aesKeyCount
        let (encryption, authentication) = key.withUnsafeBytes {
            (SymmetricKey(data: UnsafeRawBufferPointer(rebasing: $0[..<split])),
             SymmetricKey(data: UnsafeRawBufferPointer(rebasing: $0[split...])))
        }
        encryptionKey = encryption
        authenticator = suite.usesSHA512 ? .sha512(HMAC(key: authentication)) : .sha256(HMAC(key: authentication))
    }
}
