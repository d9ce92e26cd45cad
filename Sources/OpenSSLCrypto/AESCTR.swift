import COpenSSL
import Synchronization

/// AES-CTR (128- or 256-bit key) with a libcrypto context keyed once: each call only sets the
/// 16-byte initial counter block. Encryption and decryption are the same operation.
public final class AESCTR: Sendable {
    public static let blockCount = 16

    public let keyCount: Int
    private let contexts: Mutex<CipherContextPair>

    public init(key: [UInt8]) throws {
        let cipher: OpaquePointer?
        switch key.count {
        case 16: cipher = EVP_aes_128_ctr()
        case 32: cipher = EVP_aes_256_ctr()
        default: throw CryptoError.keySize(algorithm: "AES-CTR", expected: "16 or 32", got: key.count)
        }
        keyCount = key.count
        contexts = Mutex(try CipherContextPair(cipher: cipher, key: key, algorithm: "AES-CTR"))
    }

    /// XORs `input` with the key stream starting at `counterBlock` (16 bytes) into `output`
    /// (the same size; may be `input`'s own bytes).
    public func apply(_ input: UnsafeRawBufferPointer, counterBlock: UnsafeRawBufferPointer,
                      into output: UnsafeMutableRawBufferPointer) throws {
        guard counterBlock.count == Self.blockCount else {
            throw CryptoError.ivSize(algorithm: "AES-CTR", expected: Self.blockCount, got: counterBlock.count)
        }
        guard output.count == input.count else { throw CryptoError.outputSize(expected: input.count, got: output.count) }
        let count = try LibCrypto.int32(input.count, "AES-CTR")
        guard count > 0 else { return }
        try contexts.withLock { (pair: inout CipherContextPair) throws in
            var written: Int32 = 0
            guard EVP_EncryptInit_ex(pair.encrypt, nil, nil, nil, LibCrypto.bytes(counterBlock)) == 1 else {
                throw LibCrypto.failure("AES-CTR counter block")
            }
            guard EVP_EncryptUpdate(pair.encrypt, LibCrypto.mutableBytes(output), &written, LibCrypto.bytes(input), count) == 1 else {
                throw LibCrypto.failure("AES-CTR")
            }
        }
    }
}
