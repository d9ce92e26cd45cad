import Crypto
import CryptoExtras
import Foundation

/// The key and salt SFrame derives from a base key for one key id (RFC 9605 section 4.4.2):
/// `secret = HKDF-Extract("", base_key)`,
/// `key = HKDF-Expand(secret, "SFrame 1.0 Secret key " || KID (8 bytes) || suite (2 bytes), Nk)`,
/// `salt` likewise with "SFrame 1.0 Secret salt ", Nn bytes.
public struct SFrameKeyMaterial: Sendable {
    public let suite: CipherSuite
    public let keyID: UInt64
    let key: SymmetricKey
    public let salt: [UInt8]

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
    }

    /// The derived key bytes (tests compare them with the known answers).
    public var keyBytes: [UInt8] { key.withUnsafeBytes { Array($0) } }

    static func label(_ prefix: String, keyID: UInt64, suite: CipherSuite) -> [UInt8] {
        Array(prefix.utf8) + SFrameHeader.bigEndian(keyID, count: 8) + SFrameHeader.bigEndian(UInt64(suite.rawValue), count: 2)
    }

    /// `salt XOR counter` (the counter left-padded to Nn bytes).
    func nonce(counter: UInt64) -> [UInt8] {
        var nonce = salt
        let counterBytes = SFrameHeader.bigEndian(counter, count: 8)
        for index in 0..<8 { nonce[nonce.count - 8 + index] ^= counterBytes[index] }
        return nonce
    }
}

/// The AEAD of a cipher suite: AES-GCM, or AES-CTR + truncated HMAC (RFC 9605 section 4.5.1).
public enum SFrameAEAD {
    /// ciphertext || tag
    public static func seal(_ plaintext: some DataProtocol, material: SFrameKeyMaterial, nonce: [UInt8], aad: some DataProtocol) throws -> Data {
        switch material.suite.construction {
        case .gcm:
            let box = try AES.GCM.seal(plaintext, using: material.key, nonce: AES.GCM.Nonce(data: nonce), authenticating: aad)
            return box.ciphertext + box.tag
        case .ctrHmac:
            let (encryptionKey, authenticationKey) = subkeys(material)
            let ciphertext = try AES._CTR.encrypt(plaintext, using: encryptionKey, nonce: AES._CTR.Nonce(nonceBytes: nonce))
            return ciphertext + tag(material.suite, authenticationKey, nonce: nonce, aad: aad, ciphertext: ciphertext)
        }
    }

    /// The plaintext, or `SFrameError.authentication`.
    public static func open(_ sealed: some DataProtocol, material: SFrameKeyMaterial, nonce: [UInt8], aad: some DataProtocol) throws -> Data {
        let tagCount = material.suite.tagCount
        guard sealed.count >= tagCount else { throw SFrameError.syntax("frame shorter than the \(tagCount)-byte tag") }
        let ciphertext = Data(sealed.prefix(sealed.count - tagCount))
        let receivedTag = Data(sealed.suffix(tagCount))
        switch material.suite.construction {
        case .gcm:
            do {
                let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: nonce), ciphertext: ciphertext, tag: receivedTag)
                return try AES.GCM.open(box, using: material.key, authenticating: aad)
            } catch {
                throw SFrameError.authentication
            }
        case .ctrHmac:
            let (encryptionKey, authenticationKey) = subkeys(material)
            let expected = tag(material.suite, authenticationKey, nonce: nonce, aad: aad, ciphertext: ciphertext)
            guard constantTimeEqual(expected, receivedTag) else { throw SFrameError.authentication }
            return try AES._CTR.decrypt(ciphertext, using: encryptionKey, nonce: AES._CTR.Nonce(nonceBytes: nonce))
        }
    }

    /// `enc_key = key[..Nka]`, `auth_key = key[Nka..]`.
    private static func subkeys(_ material: SFrameKeyMaterial) -> (SymmetricKey, SymmetricKey) {
        material.key.withUnsafeBytes { bytes in
            let split = material.suite.aesKeyCount
            return (SymmetricKey(data: Data(bytes[..<split])), SymmetricKey(data: Data(bytes[split...])))
        }
    }

    /// HMAC(auth_key, len(aad) || len(ct) || Nt (8 bytes each, big-endian) || nonce || aad || ct),
    /// truncated to Nt bytes.
    private static func tag(_ suite: CipherSuite, _ key: SymmetricKey, nonce: [UInt8], aad: some DataProtocol, ciphertext: Data) -> Data {
        var input = Data()
        input.reserveCapacity(24 + nonce.count + aad.count + ciphertext.count)
        input.append(contentsOf: SFrameHeader.bigEndian(UInt64(aad.count), count: 8))
        input.append(contentsOf: SFrameHeader.bigEndian(UInt64(ciphertext.count), count: 8))
        input.append(contentsOf: SFrameHeader.bigEndian(UInt64(suite.tagCount), count: 8))
        input.append(contentsOf: nonce)
        input.append(contentsOf: aad)
        input.append(ciphertext)
        let code: Data = suite.usesSHA512
            ? Data(HMAC<SHA512>.authenticationCode(for: input, using: key))
            : Data(HMAC<SHA256>.authenticationCode(for: input, using: key))
        return code.prefix(suite.tagCount)
    }

    /// Compares without an early exit, so timing does not reveal how many tag bytes matched.
    private static func constantTimeEqual(_ a: Data, _ b: Data) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}

/// Encrypts frames under the current key: `header || AEAD(key, salt ^ ctr, header || metadata, pt)`.
/// The counter starts at 0 for every new key and is never reused: when it is exhausted,
/// `protect` refuses instead of wrapping.
public final class SFrameSender: @unchecked Sendable {
    private var material: SFrameKeyMaterial?
    private var counter: UInt64 = 0
    private var exhausted = false

    public init() {}

    /// The key frames are encrypted with from now on (`setEncryptionKey(key, keyID)`).
    public func setKey(_ material: SFrameKeyMaterial) {
        self.material = material
        counter = 0
        exhausted = false
    }

    public var keyID: UInt64? { material?.keyID }
    public var hasKey: Bool { material != nil }

    /// The next counter value (tests start it elsewhere to check exhaustion).
    public func setCounter(_ value: UInt64) { counter = value; exhausted = false }

    /// Encrypts `plaintext`; `metadata` is authenticated but not sent (both ends must know it).
    public func protect(_ plaintext: some DataProtocol, metadata: some DataProtocol = Data()) throws -> Data {
        guard let material else { throw SFrameError.invalidArgument("no encryption key set") }
        guard !exhausted else { throw SFrameError.counterExhausted(material.keyID) }
        let header = SFrameHeader(keyID: material.keyID, counter: counter).encoded
        var aad = Data(header)
        aad.append(contentsOf: metadata)
        let sealed = try SFrameAEAD.seal(plaintext, material: material, nonce: material.nonce(counter: counter), aad: aad)
        if counter == .max { exhausted = true } else { counter += 1 }
        return Data(header) + sealed
    }
}

/// Decrypts frames with any of the keys it holds, chosen by the frame's key id.
public final class SFrameReceiver: @unchecked Sendable {
    private var keys: [UInt64: SFrameKeyMaterial] = [:]

    public init() {}

    public func addKey(_ material: SFrameKeyMaterial) { keys[material.keyID] = material }
    public func removeKey(_ keyID: UInt64) { keys[keyID] = nil }
    public var keyIDs: [UInt64] { keys.keys.sorted() }

    /// The plaintext of `frame` and its header, or the reason it was refused.
    public func unprotect(_ frame: some DataProtocol, metadata: some DataProtocol = Data()) throws -> (plaintext: Data, header: SFrameHeader) {
        let (header, headerCount) = try SFrameHeader.decode(frame)
        guard let material = keys[header.keyID] else { throw SFrameError.unknownKeyID(header.keyID) }
        let sealed = frame.dropFirst(headerCount)
        guard sealed.count >= material.suite.tagCount else {
            throw SFrameError.syntax("frame of \(frame.count) bytes is shorter than its header and \(material.suite.tagCount)-byte tag")
        }
        var aad = Data(frame.prefix(headerCount))
        aad.append(contentsOf: metadata)
        let plaintext = try SFrameAEAD.open(sealed, material: material, nonce: material.nonce(counter: header.counter), aad: aad)
        return (plaintext, header)
    }
}
