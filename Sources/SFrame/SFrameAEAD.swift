import OpenSSLCrypto

/// The AEAD of a cipher suite: AES-GCM, or AES-CTR + truncated HMAC (RFC 9605 section 4.5.1).
///
/// libcrypto (OpenSSLCrypto) does the cryptography with contexts kept in the key material;
/// this file arranges inputs and outputs so that frames are written once, where the caller
/// wants them.
public enum SFrameAEAD {
    /// Seals into `output`, which must be exactly `plaintext.count + material.suite.tagCount`
    /// bytes: ciphertext || tag. `output` may be the plaintext's own bytes (in place); it must
    /// not overlap `aad` or `nonce`.
    public static func seal(_ plaintext: UnsafeRawBufferPointer, material: SFrameKeyMaterial, nonce: UnsafeRawBufferPointer,
                            aad: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws {
        try check(nonce, material)
        let tagCount = material.suite.tagCount
        guard output.count == plaintext.count + tagCount else {
            throw SFrameError.invalidArgument("the output needs \(plaintext.count + tagCount) bytes, not \(output.count)")
        }
        do {
            switch material.cipher {
            case .gcm(let gcm):
                try gcm.seal(plaintext, iv: nonce, aad: aad, into: output)
            case .ctrHmac(let ctr, let hmac):
                let ciphertext = UnsafeMutableRawBufferPointer(rebasing: output[..<plaintext.count])
                try withCounterBlock(nonce) { try ctr.apply(plaintext, counterBlock: $0, into: ciphertext) }
                try tag(hmac, tagCount, nonce, aad, UnsafeRawBufferPointer(ciphertext),
                        into: UnsafeMutableRawBufferPointer(rebasing: output[plaintext.count...]))
            }
        } catch let error as CryptoError {
            throw SFrameError.invalidArgument("\(material.suite): \(error)")
        }
    }

    /// Opens `sealed` (ciphertext || tag) into `output`, exactly `sealed.count - tagCount`
    /// bytes, or throws `SFrameError.authentication` (then `output` must not be used).
    public static func open(_ sealed: UnsafeRawBufferPointer, material: SFrameKeyMaterial, nonce: UnsafeRawBufferPointer,
                            aad: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws {
        try check(nonce, material)
        let tagCount = material.suite.tagCount
        guard sealed.count >= tagCount else { throw SFrameError.syntax("frame shorter than the \(tagCount)-byte tag") }
        let split = sealed.count - tagCount
        guard output.count == split else {
            throw SFrameError.invalidArgument("the output needs \(split) bytes, not \(output.count)")
        }
        do {
            switch material.cipher {
            case .gcm(let gcm):
                try gcm.open(sealed, iv: nonce, aad: aad, into: output)
            case .ctrHmac(let ctr, let hmac):
                let ciphertext = UnsafeRawBufferPointer(rebasing: sealed[..<split])
                // Authenticate first; decrypt only what authenticated.
                let authentic = try withUnsafeTemporaryAllocation(byteCount: tagCount, alignment: 8) { expected in
                    try tag(hmac, tagCount, nonce, aad, ciphertext, into: expected)
                    return constantTimeEqual(UnsafeRawBufferPointer(expected), UnsafeRawBufferPointer(rebasing: sealed[split...]))
                }
                guard authentic else { throw SFrameError.authentication }
                try withCounterBlock(nonce) { try ctr.apply(ciphertext, counterBlock: $0, into: output) }
            }
        } catch CryptoError.authenticationFailed {
            throw SFrameError.authentication
        } catch let error as CryptoError {
            throw SFrameError.invalidArgument("\(material.suite): \(error)")
        }
    }

    /// ciphertext || tag, as a new array (tests, and callers without an output buffer).
    public static func seal(_ plaintext: [UInt8], material: SFrameKeyMaterial, nonce: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        var output = [UInt8](repeating: 0, count: plaintext.count + material.suite.tagCount)
        try plaintext.withUnsafeBytes { plaintext in
            try nonce.withUnsafeBytes { nonce in
                try aad.withUnsafeBytes { aad in
                    try output.withUnsafeMutableBytes { try seal(plaintext, material: material, nonce: nonce, aad: aad, into: $0) }
                }
            }
        }
        return output
    }

    /// The plaintext as a new array, or `SFrameError.authentication`.
    public static func open(_ sealed: [UInt8], material: SFrameKeyMaterial, nonce: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        let tagCount = material.suite.tagCount
        guard sealed.count >= tagCount else { throw SFrameError.syntax("frame shorter than the \(tagCount)-byte tag") }
        var output = [UInt8](repeating: 0, count: sealed.count - tagCount)
        try sealed.withUnsafeBytes { sealed in
            try nonce.withUnsafeBytes { nonce in
                try aad.withUnsafeBytes { aad in
                    try output.withUnsafeMutableBytes { try open(sealed, material: material, nonce: nonce, aad: aad, into: $0) }
                }
            }
        }
        return output
    }

    /// Nn bytes.
    private static func check(_ nonce: UnsafeRawBufferPointer, _ material: SFrameKeyMaterial) throws {
        guard nonce.count == material.suite.nonceCount else {
            throw SFrameError.invalidArgument("\(material.suite) needs a \(material.suite.nonceCount)-byte nonce, not \(nonce.count) bytes")
        }
    }

    // MARK: - CTR + HMAC

    /// The initial counter block: the 12-byte nonce followed by a 32-bit block counter of 0.
    private static func withCounterBlock<R>(_ nonce: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var block: (UInt64, UInt64) = (0, 0)
        return try withUnsafeMutableBytes(of: &block) { bytes in
            UnsafeMutableRawBufferPointer(rebasing: bytes[..<nonce.count]).copyMemory(from: nonce)
            return try body(UnsafeRawBufferPointer(bytes))
        }
    }

    /// HMAC(auth_key, len(aad) || len(ct) || Nt (8 bytes each, big-endian) || nonce || aad || ct),
    /// truncated to Nt bytes into `output`. The parts go into the HMAC one after the other
    /// rather than into a concatenated copy of the frame.
    private static func tag(_ hmac: HMAC, _ tagCount: Int, _ nonce: UnsafeRawBufferPointer, _ aad: UnsafeRawBufferPointer,
                            _ ciphertext: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws {
        var lengths: (UInt64, UInt64, UInt64) = (UInt64(aad.count).bigEndian, UInt64(ciphertext.count).bigEndian, UInt64(tagCount).bigEndian)
        try withUnsafeBytes(of: &lengths) { lengths in
            try hmac.authenticate(into: output) { update in
                update(lengths)
                update(nonce)
                update(aad)
                update(ciphertext)
            }
        }
    }
}
