/// The SFrame cipher suites (RFC 9605 section 4.5 and its IANA registry).
public enum CipherSuite: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    case aes128CtrHmacSha256_80 = 0x0001
    case aes128CtrHmacSha256_64 = 0x0002
    case aes128CtrHmacSha256_32 = 0x0003
    case aes128GcmSha256_128 = 0x0004
    case aes256GcmSha512_128 = 0x0005
    case aes256CtrHmacSha512_80 = 0x0006
    case aes256CtrHmacSha512_64 = 0x0007
    case aes256CtrHmacSha512_32 = 0x0008

    enum Construction { case gcm, ctrHmac }

    var construction: Construction {
        switch self {
        case .aes128GcmSha256_128, .aes256GcmSha512_128: .gcm
        default: .ctrHmac
        }
    }

    /// The hash of HKDF (and of HMAC for the CTR suites): SHA-512 for 0x0005-0x0008.
    var usesSHA512: Bool { rawValue >= 0x0005 }

    /// AES key size in bytes.
    var aesKeyCount: Int {
        switch self {
        case .aes128CtrHmacSha256_80, .aes128CtrHmacSha256_64, .aes128CtrHmacSha256_32, .aes128GcmSha256_128: 16
        default: 32
        }
    }

    /// Nk: the AEAD key size (for CTR+HMAC the AES key followed by the HMAC key).
    public var keyCount: Int {
        switch construction {
        case .gcm: aesKeyCount
        case .ctrHmac: aesKeyCount + (usesSHA512 ? 64 : 32)
        }
    }

    /// Nn: nonce size.
    public var nonceCount: Int { 12 }

    /// Nt: authentication tag size.
    public var tagCount: Int {
        switch self {
        case .aes128CtrHmacSha256_80, .aes256CtrHmacSha512_80: 10
        case .aes128CtrHmacSha256_64, .aes256CtrHmacSha512_64: 8
        case .aes128CtrHmacSha256_32, .aes256CtrHmacSha512_32: 4
        case .aes128GcmSha256_128, .aes256GcmSha512_128: 16
        }
    }

    /// The registry's name, e.g. `AES_128_GCM_SHA256_128`.
    public var description: String {
        switch self {
        case .aes128CtrHmacSha256_80: "AES_128_CTR_HMAC_SHA256_80"
        case .aes128CtrHmacSha256_64: "AES_128_CTR_HMAC_SHA256_64"
        case .aes128CtrHmacSha256_32: "AES_128_CTR_HMAC_SHA256_32"
        case .aes128GcmSha256_128: "AES_128_GCM_SHA256_128"
        case .aes256GcmSha512_128: "AES_256_GCM_SHA512_128"
        case .aes256CtrHmacSha512_80: "AES_256_CTR_HMAC_SHA512_80"
        case .aes256CtrHmacSha512_64: "AES_256_CTR_HMAC_SHA512_64"
        case .aes256CtrHmacSha512_32: "AES_256_CTR_HMAC_SHA512_32"
        }
    }
}
