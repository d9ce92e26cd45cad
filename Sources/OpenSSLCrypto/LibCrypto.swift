import COpenSSL

/// Helpers around libcrypto's calling conventions.
enum LibCrypto {
    /// The reason of the last failure on this thread's OpenSSL error queue, which is then
    /// emptied (so that other users of OpenSSL in the process, e.g. GStreamer's DTLS, never see
    /// our failures). OpenSSL's reason strings carry no key or data bytes.
    static func failure(_ operation: String) -> CryptoError {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0 else { return .library(operation: operation, reason: "no reason given") }
        var text = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &text, text.count)
        let reason = text.withUnsafeBufferPointer { buffer in
            String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return .library(operation: operation, reason: reason)
    }

    /// A length libcrypto's `int` parameters can carry.
    static func int32(_ count: Int, _ operation: String) throws -> Int32 {
        guard let value = Int32(exactly: count) else {
            throw CryptoError.invalidArgument("\(operation): \(count) bytes is more than libcrypto takes at once")
        }
        return value
    }

    static func bytes(_ buffer: UnsafeRawBufferPointer) -> UnsafePointer<UInt8>? {
        buffer.baseAddress?.assumingMemoryBound(to: UInt8.self)
    }

    static func mutableBytes(_ buffer: UnsafeMutableRawBufferPointer) -> UnsafeMutablePointer<UInt8>? {
        buffer.baseAddress?.assumingMemoryBound(to: UInt8.self)
    }
}

/// Compares without an early exit (CRYPTO_memcmp), so timing does not reveal how many bytes
/// matched. Buffers of different sizes are unequal.
public func constantTimeEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    guard a.count == b.count else { return false }
    guard a.count > 0 else { return true }
    return CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) == 0
}
