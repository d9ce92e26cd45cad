import COpenSSL
import Synchronization

/// The hash functions HKDF, HMAC and PBKDF2 use here.
public enum HashFunction: Sendable {
    case sha256, sha512

    /// Output size in bytes.
    public var count: Int { self == .sha256 ? 32 : 64 }
    var isSHA512: Int32 { self == .sha512 ? 1 : 0 }
}

/// HMAC keyed once (libcrypto EVP_MAC); each message restarts the keyed context instead of
/// re-deriving the padded key blocks.
public final class HMAC: Sendable {
    public let hash: HashFunction
    private let context: Mutex<MACContext>

    public init(hash: HashFunction, key: [UInt8]) throws {
        self.hash = hash
        guard let pointer = key.withUnsafeBufferPointer({ swift_ossl_hmac_new(hash.isSHA512, $0.baseAddress, $0.count) }) else {
            throw LibCrypto.failure("HMAC key setup")
        }
        context = Mutex(MACContext(pointer: pointer))
    }

    /// The MAC of the parts `feed` passes to its `update` function, one after the other,
    /// truncated to `output.count` bytes (at most `hash.count`).
    public func authenticate(into output: UnsafeMutableRawBufferPointer,
                             _ feed: (_ update: (UnsafeRawBufferPointer) -> Void) -> Void) throws {
        guard output.count <= hash.count else { throw CryptoError.outputSize(expected: hash.count, got: output.count) }
        try context.withLock { (context: inout MACContext) throws in
            guard EVP_MAC_init(context.pointer, nil, 0, nil) == 1 else { throw LibCrypto.failure("HMAC restart") }
            var updated = true
            feed { part in
                if part.count > 0, EVP_MAC_update(context.pointer, LibCrypto.bytes(part), part.count) != 1 { updated = false }
            }
            guard updated else { throw LibCrypto.failure("HMAC update") }
            try withUnsafeTemporaryAllocation(byteCount: 64, alignment: 8) { (code) throws in
                var length = 0
                guard EVP_MAC_final(context.pointer, LibCrypto.mutableBytes(code), &length, 64) == 1 else {
                    throw LibCrypto.failure("HMAC final")
                }
                output.copyMemory(from: UnsafeRawBufferPointer(rebasing: code[..<output.count]))
            }
        }
    }

    /// The whole MAC of `message` as a new array.
    public func authenticationCode(_ message: [UInt8]) throws -> [UInt8] {
        var code = [UInt8](repeating: 0, count: hash.count)
        try code.withUnsafeMutableBytes { (code) throws in
            try message.withUnsafeBytes { message in
                try authenticate(into: code) { update in update(message) }
            }
        }
        return code
    }
}

struct MACContext: ~Copyable {
    let pointer: OpaquePointer
    deinit { EVP_MAC_CTX_free(pointer) }
}
