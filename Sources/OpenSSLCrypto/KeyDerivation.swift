import COpenSSL

/// HKDF (RFC 5869) from libcrypto.
public enum HKDF {
    /// Extract then expand: `count` bytes.
    public static func deriveKey(hash: HashFunction, inputKeyMaterial: [UInt8], salt: [UInt8], info: [UInt8],
                                 count: Int) throws -> [UInt8] {
        try run(hash, EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND, key: inputKeyMaterial, salt: salt, info: info, count: count)
    }

    /// The pseudorandom key (`hash.count` bytes).
    public static func extract(hash: HashFunction, inputKeyMaterial: [UInt8], salt: [UInt8]) throws -> [UInt8] {
        try run(hash, EVP_KDF_HKDF_MODE_EXTRACT_ONLY, key: inputKeyMaterial, salt: salt, info: [], count: hash.count)
    }

    /// `count` bytes expanded from a pseudorandom key.
    public static func expand(hash: HashFunction, pseudoRandomKey: [UInt8], info: [UInt8], count: Int) throws -> [UInt8] {
        try run(hash, EVP_KDF_HKDF_MODE_EXPAND_ONLY, key: pseudoRandomKey, salt: [], info: info, count: count)
    }

    private static func run(_ hash: HashFunction, _ mode: Int32, key: [UInt8], salt: [UInt8], info: [UInt8],
                            count: Int) throws -> [UInt8] {
        guard count > 0, count <= 255 * hash.count else {
            throw CryptoError.invalidArgument("HKDF output of \(count) bytes: it gives 1 to \(255 * hash.count)")
        }
        var output = [UInt8](repeating: 0, count: count)
        let ok = output.withUnsafeMutableBufferPointer { output in
            key.withUnsafeBufferPointer { key in
                salt.withUnsafeBufferPointer { salt in
                    info.withUnsafeBufferPointer { info in
                        swift_ossl_hkdf(hash.isSHA512, mode, key.baseAddress, key.count, salt.baseAddress, salt.count,
                                        info.baseAddress, info.count, output.baseAddress, output.count)
                    }
                }
            }
        }
        guard ok == 1 else { throw LibCrypto.failure("HKDF") }
        return output
    }
}

/// PBKDF2 (RFC 8018) with HMAC, from libcrypto.
public enum PBKDF2 {
    public static func deriveKey(hash: HashFunction, password: [UInt8], salt: [UInt8], iterations: Int,
                                 count: Int) throws -> [UInt8] {
        guard iterations > 0, let iterationCount = Int32(exactly: iterations) else {
            throw CryptoError.invalidArgument("PBKDF2 needs 1 to \(Int32.max) iterations, not \(iterations)")
        }
        guard count > 0 else { throw CryptoError.invalidArgument("PBKDF2 output of \(count) bytes") }
        let passwordCount = try LibCrypto.int32(password.count, "PBKDF2")
        let saltCount = try LibCrypto.int32(salt.count, "PBKDF2")
        let outputCount = try LibCrypto.int32(count, "PBKDF2")
        var output = [UInt8](repeating: 0, count: count)
        let ok = output.withUnsafeMutableBufferPointer { output in
            password.withUnsafeBufferPointer { password in
                salt.withUnsafeBufferPointer { salt in
                    password.withMemoryRebound(to: CChar.self) { password in
                        PKCS5_PBKDF2_HMAC(password.baseAddress, passwordCount, salt.baseAddress, saltCount, iterationCount,
                                          hash == .sha256 ? EVP_sha256() : EVP_sha512(), outputCount, output.baseAddress)
                    }
                }
            }
        }
        guard ok == 1 else { throw LibCrypto.failure("PBKDF2") }
        return output
    }
}

/// SHA-256 of a message (libcrypto EVP_Digest).
public enum SHA256 {
    public static func hash(_ message: UnsafeRawBufferPointer) throws -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let ok = digest.withUnsafeMutableBufferPointer { digest in
            EVP_Digest(message.baseAddress, message.count, digest.baseAddress, &length, EVP_sha256(), nil)
        }
        guard ok == 1 else { throw LibCrypto.failure("SHA-256") }
        return digest
    }

    public static func hash(_ message: [UInt8]) throws -> [UInt8] {
        try message.withUnsafeBytes { try hash($0) }
    }
}

/// Bytes from libcrypto's CSPRNG (RAND_bytes).
public enum SecureRandom {
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) throws {
        guard buffer.count > 0 else { return }
        let count = try LibCrypto.int32(buffer.count, "RAND_bytes")
        guard RAND_bytes(LibCrypto.mutableBytes(buffer), count) == 1 else { throw LibCrypto.failure("RAND_bytes") }
    }

    public static func bytes(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { (bytes) throws in try fill(bytes) }
        return bytes
    }

    public static func uint32() throws -> UInt32 {
        var value: UInt32 = 0
        try withUnsafeMutableBytes(of: &value) { (bytes) throws in try fill(bytes) }
        return value
    }

    public static func uint64() throws -> UInt64 {
        var value: UInt64 = 0
        try withUnsafeMutableBytes(of: &value) { (bytes) throws in try fill(bytes) }
        return value
    }
}
