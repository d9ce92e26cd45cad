import Crypto
import CryptoExtras
import Foundation

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
