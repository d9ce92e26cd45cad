import COpenSSL
import Synchronization

/// AES-GCM (128- or 256-bit key, 12-byte IV, 16-byte tag) with libcrypto contexts set up once
/// for the key: each frame only sets its IV. Safe to share between threads (the contexts are
/// used under a lock; one frame at a time per key).
public final class AESGCM: Sendable {
    public static let ivCount = 12
    public static let tagCount = 16

    /// 16 or 32.
    public let keyCount: Int
    private let contexts: Mutex<CipherContextPair>

    public init(key: [UInt8]) throws {
        let cipher: OpaquePointer?
        switch key.count {
        case 16: cipher = EVP_aes_128_gcm()
        case 32: cipher = EVP_aes_256_gcm()
        default: throw CryptoError.keySize(algorithm: "AES-GCM", expected: "16 or 32", got: key.count)
        }
        keyCount = key.count
        contexts = Mutex(try CipherContextPair(cipher: cipher, key: key, algorithm: "AES-GCM"))
    }

    /// `ciphertext || tag` of `plaintext` into `output` (exactly `plaintext.count + 16` bytes).
    /// `output` may be the plaintext's own bytes shifted by 0 (in place); it must not overlap
    /// `aad` or `iv`.
    public func seal(_ plaintext: UnsafeRawBufferPointer, iv: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer,
                     into output: UnsafeMutableRawBufferPointer) throws {
        guard iv.count == Self.ivCount else { throw CryptoError.ivSize(algorithm: "AES-GCM", expected: Self.ivCount, got: iv.count) }
        guard output.count == plaintext.count + Self.tagCount else {
            throw CryptoError.outputSize(expected: plaintext.count + Self.tagCount, got: output.count)
        }
        let plaintextCount = try LibCrypto.int32(plaintext.count, "AES-GCM")
        let aadCount = try LibCrypto.int32(aad.count, "AES-GCM")
        try contexts.withLock { (pair: inout CipherContextPair) throws in
            try Self.run(pair.encrypt, iv: iv, aad: aad, aadCount: aadCount, input: plaintext, count: plaintextCount, output: output,
                         beforeFinal: { _ in },
                         afterFinal: { context in
                             guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, Int32(Self.tagCount), output.baseAddress! + plaintext.count) == 1 else {
                                 throw LibCrypto.failure("AES-GCM tag")
                             }
                         })
        }
    }

    /// The plaintext of `sealed` (`ciphertext || tag`) into `output` (exactly `sealed.count - 16`
    /// bytes), or `CryptoError.authenticationFailed` (then `output` holds nothing usable:
    /// callers must not pass it on). The tag is compared in constant time by libcrypto.
    public func open(_ sealed: UnsafeRawBufferPointer, iv: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer,
                     into output: UnsafeMutableRawBufferPointer) throws {
        guard iv.count == Self.ivCount else { throw CryptoError.ivSize(algorithm: "AES-GCM", expected: Self.ivCount, got: iv.count) }
        guard sealed.count >= Self.tagCount else { throw CryptoError.authenticationFailed }
        let ciphertextCount = sealed.count - Self.tagCount
        guard output.count == ciphertextCount else { throw CryptoError.outputSize(expected: ciphertextCount, got: output.count) }
        let count = try LibCrypto.int32(ciphertextCount, "AES-GCM")
        let aadCount = try LibCrypto.int32(aad.count, "AES-GCM")
        try contexts.withLock { (pair: inout CipherContextPair) throws in
            try Self.run(pair.decrypt, iv: iv, aad: aad, aadCount: aadCount, input: sealed, count: count, output: output,
                         beforeFinal: { context in
                             // The tag is an input here; libcrypto only reads it.
                             let tag = UnsafeMutableRawPointer(mutating: sealed.baseAddress! + ciphertextCount)
                             guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(Self.tagCount), tag) == 1 else {
                                 throw LibCrypto.failure("AES-GCM tag")
                             }
                         },
                         afterFinal: { _ in })
        }
    }

    /// One AES-GCM operation on a keyed context, in the direction it was keyed for (the EVP_Cipher*
    /// calls follow the context's direction): the IV, the additional data, the `count` bytes of
    /// `input` into `output`, then `beforeFinal` (decryption sets the expected tag), the final
    /// step (which checks the tag when decrypting: its failure is `authenticationFailed`), and
    /// `afterFinal` (encryption reads the tag).
    @inline(__always)
    private static func run(_ context: OpaquePointer, iv: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer, aadCount: Int32,
                            input: UnsafeRawBufferPointer, count: Int32, output: UnsafeMutableRawBufferPointer,
                            beforeFinal: (OpaquePointer) throws -> Void, afterFinal: (OpaquePointer) throws -> Void) throws {
        var written: Int32 = 0
        guard EVP_CipherInit_ex(context, nil, nil, nil, LibCrypto.bytes(iv), -1) == 1 else { throw LibCrypto.failure("AES-GCM IV") }
        if aadCount > 0 {
            guard EVP_CipherUpdate(context, nil, &written, LibCrypto.bytes(aad), aadCount) == 1 else {
                throw LibCrypto.failure("AES-GCM additional data")
            }
        }
        var total = 0
        if count > 0 {
            guard EVP_CipherUpdate(context, LibCrypto.mutableBytes(output), &written, LibCrypto.bytes(input), count) == 1 else {
                throw LibCrypto.failure(EVP_CIPHER_CTX_is_encrypting(context) == 1 ? "AES-GCM encryption" : "AES-GCM decryption")
            }
            total = Int(written)
        }
        try beforeFinal(context)
        guard EVP_CipherFinal_ex(context, LibCrypto.mutableBytes(output).map { $0 + total }, &written) == 1 else {
            guard EVP_CIPHER_CTX_is_encrypting(context) == 1 else {
                ERR_clear_error()
                throw CryptoError.authenticationFailed
            }
            throw LibCrypto.failure("AES-GCM final")
        }
        try afterFinal(context)
    }

    /// Convenience for tests and key checks: `ciphertext || tag` as a new array.
    public func seal(_ plaintext: [UInt8], iv: [UInt8], aad: [UInt8] = []) throws -> [UInt8] {
        var output = [UInt8](repeating: 0, count: plaintext.count + Self.tagCount)
        try withBuffers(plaintext, iv, aad) { (plaintext, iv, aad) throws in
            try output.withUnsafeMutableBytes { (output) throws in try seal(plaintext, iv: iv, aad: aad, into: output) }
        }
        return output
    }

    /// Convenience for tests: the plaintext as a new array.
    public func open(_ sealed: [UInt8], iv: [UInt8], aad: [UInt8] = []) throws -> [UInt8] {
        guard sealed.count >= Self.tagCount else { throw CryptoError.authenticationFailed }
        var output = [UInt8](repeating: 0, count: sealed.count - Self.tagCount)
        try withBuffers(sealed, iv, aad) { (sealed, iv, aad) throws in
            try output.withUnsafeMutableBytes { (output) throws in try open(sealed, iv: iv, aad: aad, into: output) }
        }
        return output
    }
}

/// Runs `body` with three arrays' bytes.
func withBuffers<R>(_ a: [UInt8], _ b: [UInt8], _ c: [UInt8],
                    _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) throws -> R {
    try a.withUnsafeBytes { a in try b.withUnsafeBytes { b in try c.withUnsafeBytes { c in try body(a, b, c) } } }
}

/// An encryption and a decryption context with the key set (the EVP_CIPHER_CTX pointers are
/// owned here and freed with it). Used only under the owner's lock.
struct CipherContextPair: ~Copyable {
    let encrypt: OpaquePointer
    let decrypt: OpaquePointer

    init(cipher: OpaquePointer?, key: [UInt8], algorithm: String) throws {
        guard let encrypt = EVP_CIPHER_CTX_new() else { throw LibCrypto.failure("\(algorithm) context") }
        guard let decrypt = EVP_CIPHER_CTX_new() else {
            EVP_CIPHER_CTX_free(encrypt)
            throw LibCrypto.failure("\(algorithm) context")
        }
        let keyed = key.withUnsafeBufferPointer { key in
            EVP_EncryptInit_ex(encrypt, cipher, nil, key.baseAddress, nil) == 1
                && EVP_DecryptInit_ex(decrypt, cipher, nil, key.baseAddress, nil) == 1
        }
        guard keyed else {
            EVP_CIPHER_CTX_free(encrypt)
            EVP_CIPHER_CTX_free(decrypt)
            throw LibCrypto.failure("\(algorithm) key setup")
        }
        self.encrypt = encrypt
        self.decrypt = decrypt
    }

    deinit {
        // Frees and wipes the expanded key schedule.
        EVP_CIPHER_CTX_free(encrypt)
        EVP_CIPHER_CTX_free(decrypt)
    }
}
