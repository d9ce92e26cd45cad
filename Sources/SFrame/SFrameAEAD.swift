import Crypto
import CryptoExtras
#if canImport(FoundationEssentials)
import FoundationEssentials  // as SFrameContexts.swift: no ICU in the plugin
#else
import Foundation
#endif

/// The AEAD of a cipher suite: AES-GCM, or AES-CTR + truncated HMAC (RFC 9605 section 4.5.1).
///
/// Only swift-crypto's primitives (AES.GCM, AES._CTR, HMAC) do cryptography here; this file
/// arranges their inputs and outputs so that frames are copied as little as their APIs allow.
/// The public entry points are generic; each takes its arguments' bytes in place once, and the
/// work below runs on raw buffers with concrete types (no per-frame generic dispatch of ours).
public enum SFrameAEAD {
    /// ciphertext || tag.
    ///
    /// The result can be a slice of a larger buffer: index it from its `startIndex`, not from 0.
    public static func seal(_ plaintext: some DataProtocol, material: SFrameKeyMaterial, nonce: [UInt8], aad: some DataProtocol) throws -> Data {
        try check(nonce, material)
        return try withBytes(plaintext) { plaintext in
            try withBytes(aad) { aad in try seal(plaintext, material, nonce, aad) }
        }
    }

    /// Seals into `output`, which must be exactly `plaintext.count + material.suite.tagCount`
    /// bytes: ciphertext || tag, as `seal` returns them. For callers that own the memory the
    /// frame goes to (e.g. an output buffer right after the SFrame header): it saves the Data
    /// `seal` returns and copying that again. `output` may start where the plaintext is (the
    /// plaintext is read in full before `output` is written); it must not overlap `aad`.
    public static func seal(_ plaintext: some DataProtocol, material: SFrameKeyMaterial, nonce: [UInt8], aad: some DataProtocol,
                            into output: UnsafeMutableRawBufferPointer) throws {
        try check(nonce, material)
        let tagCount = material.suite.tagCount
        guard output.count == plaintext.count + tagCount else {
            throw SFrameError.invalidArgument("the output needs \(plaintext.count + tagCount) bytes, not \(output.count)")
        }
        try withBytes(plaintext) { plaintext in
            try withBytes(aad) { aad in try seal(plaintext, material, nonce, aad, into: output) }
        }
    }

    /// The plaintext, or `SFrameError.authentication`.
    public static func open(_ sealed: some DataProtocol, material: SFrameKeyMaterial, nonce: [UInt8], aad: some DataProtocol) throws -> Data {
        try check(nonce, material)
        let tagCount = material.suite.tagCount
        guard sealed.count >= tagCount else { throw SFrameError.syntax("frame shorter than the \(tagCount)-byte tag") }
        return try withBytes(sealed) { sealed in
            try withBytes(aad) { aad in try open(sealed, material, nonce, aad) }
        }
    }

    /// Nn bytes, as the code below assumes (it copies the nonce into fixed-size buffers).
    private static func check(_ nonce: [UInt8], _ material: SFrameKeyMaterial) throws {
        guard nonce.count == material.suite.nonceCount else {
            throw SFrameError.invalidArgument("\(material.suite) needs a \(material.suite.nonceCount)-byte nonce, not \(nonce.count) bytes")
        }
    }

    // MARK: - On raw buffers

    private static func seal(_ plaintext: UnsafeRawBufferPointer, _ material: SFrameKeyMaterial, _ nonce: [UInt8],
                             _ aad: UnsafeRawBufferPointer) throws -> Data {
        switch material.suite.construction {
        case .gcm:
            let box = try AES.GCM.seal(plaintext, using: material.key, nonce: AES.GCM.Nonce(data: nonce), authenticating: aad)
            // The box already holds nonce || ciphertext || tag in one buffer: slice it rather
            // than copy the ciphertext again (`box.ciphertext + box.tag` would).
            guard let combined = box.combined else { return box.ciphertext + box.tag }
            return combined.dropFirst(nonce.count)
        case .ctrHmac:
            let keys = ctrHmacKeys(material)
            var sealed = try AES._CTR.encrypt(plaintext, using: keys.encryptionKey, nonce: AES._CTR.Nonce(nonceBytes: nonce))
            let tag = sealed.withUnsafeBytes { tagBytes(keys, material.suite.tagCount, nonce, aad, ciphertext: $0) }
            // Appending to the only reference to the buffer: no copy while it has room (Data
            // leaves some) or the allocator can grow it in place.
            withUnsafeBytes(of: tag.bytes) { sealed.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0.prefix(tag.count))) }
            return sealed
        }
    }

    private static func seal(_ plaintext: UnsafeRawBufferPointer, _ material: SFrameKeyMaterial, _ nonce: [UInt8],
                             _ aad: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws {
        switch material.suite.construction {
        case .gcm:
            let box = try AES.GCM.seal(plaintext, using: material.key, nonce: AES.GCM.Nonce(data: nonce), authenticating: aad)
            if let combined = box.combined {
                combined.dropFirst(nonce.count).copyBytes(to: output)
            } else {
                box.ciphertext.copyBytes(to: output)
                box.tag.copyBytes(to: UnsafeMutableRawBufferPointer(rebasing: output[plaintext.count...]))
            }
        case .ctrHmac:
            let keys = ctrHmacKeys(material)
            let ciphertext = try AES._CTR.encrypt(plaintext, using: keys.encryptionKey, nonce: AES._CTR.Nonce(nonceBytes: nonce))
            ciphertext.copyBytes(to: output)
            let written = UnsafeRawBufferPointer(rebasing: output[..<plaintext.count])
            let tag = tagBytes(keys, material.suite.tagCount, nonce, aad, ciphertext: written)
            withUnsafeBytes(of: tag.bytes) {
                UnsafeMutableRawBufferPointer(rebasing: output[plaintext.count...]).copyMemory(from: UnsafeRawBufferPointer(rebasing: $0.prefix(tag.count)))
            }
        }
    }

    private static func open(_ sealed: UnsafeRawBufferPointer, _ material: SFrameKeyMaterial, _ nonce: [UInt8],
                             _ aad: UnsafeRawBufferPointer) throws -> Data {
        let split = sealed.count - material.suite.tagCount
        let ciphertext = UnsafeRawBufferPointer(rebasing: sealed[..<split])
        let receivedTag = UnsafeRawBufferPointer(rebasing: sealed[split...])
        switch material.suite.construction {
        case .gcm:
            do {
                // The one copy swift-crypto's public API needs: nonce || ciphertext || tag in a box.
                let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: nonce), ciphertext: ciphertext, tag: receivedTag)
                return try AES.GCM.open(box, using: material.key, authenticating: aad)
            } catch {
                throw SFrameError.authentication
            }
        case .ctrHmac:
            let keys = ctrHmacKeys(material)
            let expected = tagBytes(keys, material.suite.tagCount, nonce, aad, ciphertext: ciphertext)
            let authentic = withUnsafeBytes(of: expected.bytes) {
                constantTimeEqual(UnsafeRawBufferPointer(rebasing: $0.prefix(expected.count)), receivedTag)
            }
            guard authentic else { throw SFrameError.authentication }
            return try AES._CTR.decrypt(ciphertext, using: keys.encryptionKey, nonce: AES._CTR.Nonce(nonceBytes: nonce))
        }
    }

    // MARK: - CTR + HMAC

    /// The subkeys cached in the key material (derived here only if it has none: it always does).
    private static func ctrHmacKeys(_ material: SFrameKeyMaterial) -> CTRHMACKeys {
        if let keys = material.ctrHmac { return keys }
        guard let keys = CTRHMACKeys(suite: material.suite, key: material.key) else {
            preconditionFailure("\(material.suite) is not a CTR+HMAC suite")
        }
        return keys
    }

    /// A truncated tag (at most 16 bytes: Nt is 4, 8 or 10) without a heap allocation.
    private struct Tag {
        var bytes: (UInt64, UInt64) = (0, 0)
        var count = 0
    }

    /// HMAC(auth_key, len(aad) || len(ct) || Nt (8 bytes each, big-endian) || nonce || aad || ct),
    /// truncated to Nt bytes. The parts go into the HMAC one after the other rather than into a
    /// concatenated copy of the frame.
    private static func tagBytes(_ keys: CTRHMACKeys, _ tagCount: Int, _ nonce: [UInt8], _ aad: UnsafeRawBufferPointer,
                                 ciphertext: UnsafeRawBufferPointer) -> Tag {
        switch keys.authenticator {
        case .sha256(let keyed): truncated(authenticationCode(keyed, tagCount, nonce, aad, ciphertext), tagCount)
        case .sha512(let keyed): truncated(authenticationCode(keyed, tagCount, nonce, aad, ciphertext), tagCount)
        }
    }

    private static func truncated(_ code: some MessageAuthenticationCode, _ tagCount: Int) -> Tag {
        var tag = Tag()
        tag.count = min(tagCount, MemoryLayout.size(ofValue: tag.bytes))
        code.withUnsafeBytes { code in
            withUnsafeMutableBytes(of: &tag.bytes) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: code.prefix(tag.count))) }
        }
        return tag
    }

    private static func authenticationCode<H: HashFunction>(_ keyed: HMAC<H>, _ tagCount: Int, _ nonce: [UInt8],
                                                            _ aad: UnsafeRawBufferPointer, _ ciphertext: UnsafeRawBufferPointer) -> HMAC<H>.MAC {
        var mac = keyed  // a copy of the HMAC keyed once per key
        // The small fields (and the AAD when it is small, as SFrame headers and metadata are)
        // in one stack buffer: one update instead of four.
        let prefixCount = 24 + nonce.count + aad.count
        withUnsafeTemporaryAllocation(byteCount: min(prefixCount, 512), alignment: 8) { buffer in
            buffer.storeBytes(of: UInt64(aad.count).bigEndian, toByteOffset: 0, as: UInt64.self)
            buffer.storeBytes(of: UInt64(ciphertext.count).bigEndian, toByteOffset: 8, as: UInt64.self)
            buffer.storeBytes(of: UInt64(tagCount).bigEndian, toByteOffset: 16, as: UInt64.self)
            nonce.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[24...]).copyMemory(from: $0) }
            if prefixCount <= buffer.count {
                UnsafeMutableRawBufferPointer(rebasing: buffer[(24 + nonce.count)...]).copyMemory(from: aad)
                mac.update(data: UnsafeRawBufferPointer(buffer))
            } else {
                mac.update(data: UnsafeRawBufferPointer(rebasing: buffer[..<(24 + nonce.count)]))
                mac.update(data: aad)
            }
        }
        mac.update(data: ciphertext)
        return mac.finalize()
    }

    /// Compares without an early exit, so timing does not reveal how many tag bytes matched.
    private static func constantTimeEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<a.count { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    // MARK: - Bytes in place

    /// Calls `body` with `data`'s bytes where they are (Data, [UInt8] and their slices are
    /// contiguous), or with a contiguous copy when they are not.
    private static func withBytes<R>(_ data: some DataProtocol, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if let result = try data.withContiguousStorageIfAvailable({ try body(UnsafeRawBufferPointer($0)) }) {
            return result
        }
        return try Array(data).withUnsafeBytes(body)
    }
}
