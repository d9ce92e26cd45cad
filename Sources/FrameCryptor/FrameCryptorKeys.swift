import OpenSSLCrypto

/// Which deployed E2EE system's frame format and key rules to speak.
public enum FrameCryptorProfile: String, Sendable, CaseIterable {
    /// LiveKit (client-sdk-js FrameCryptor, libwebrtc FrameCryptorTransformer: the JS, Rust,
    /// Python and mobile SDKs; LiveKit Meet, Element Call / MatrixRTC).
    case livekit
    /// Jitsi Meet (lib-jitsi-meet's E2EE context): the same frame layout, its own key rules.
    case jitsi

    /// LiveKit's default `ratchetSalt`; Jitsi uses fixed salts (`JFrameEncryptionKey`,
    /// `JFrameRatchetKey`) and no configurable one.
    public static let liveKitRatchetSalt = "LKFrameEncryptionKey"

    /// Ratchet steps a receiver tries on a frame that does not decrypt (client-sdk-js: 8; the
    /// Rust and Python SDKs: 16; lib-jitsi-meet: 8).
    public var defaultRatchetWindowSize: Int { 8 }
    /// Failures per key index before its frames are dropped without trying (client-sdk-js:
    /// 10; -1 never gives up). Jitsi has no such limit.
    public var defaultFailureTolerance: Int { self == .livekit ? 10 : -1 }
}

/// The secret a key slot starts from, as the SDKs import it: a shared passphrase (PBKDF2) or
/// raw key material (HKDF). Its descriptions and mirror name the kind and size, never the
/// bytes (a struct without them would print its bytes through reflection).
public struct FrameKeyMaterial: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public enum Kind: String, Sendable {
        /// `KeyProvider.setKey(passphrase)`: PBKDF2-HMAC-SHA256, 100,000 iterations.
        case passphrase
        /// `KeyProvider.setRawKey(bytes)` / Jitsi's per-participant keys: HKDF-SHA256.
        case raw
    }

    public let kind: Kind
    package let bytes: [UInt8]

    public init(kind: Kind, bytes: [UInt8]) throws {
        guard !bytes.isEmpty else {
            throw FrameCryptorError.invalidKey(kind == .passphrase ? "the passphrase is empty" : "the key material is empty")
        }
        self.kind = kind
        self.bytes = bytes
    }

    public static func passphrase(_ text: String) throws -> FrameKeyMaterial {
        try FrameKeyMaterial(kind: .passphrase, bytes: Array(text.utf8))
    }

    public var description: String { "FrameKeyMaterial(\(kind.rawValue), \(bytes.count) bytes <redacted>)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["kind": kind], displayStyle: .struct) }
}

/// The AES-GCM key of one key slot, derived from its material, and that material (the
/// ratchet's input).
public struct FrameKeySet: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let material: FrameKeyMaterial
    let cipher: AESGCM

    public var description: String { "FrameKeySet(\(material))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["material": material], displayStyle: .struct) }
}

/// The key rules of a profile: material -> AES key, and material -> next material (ratchet).
public struct FrameKeyDerivation: Sendable {
    public let profile: FrameCryptorProfile
    /// LiveKit: the salt of both the key derivation and the ratchet.
    public let ratchetSalt: [UInt8]
    /// 16 (AES-128, what every SDK derives).
    public let keyCount = 16

    static let pbkdf2Iterations = 100_000
    /// LiveKit's HKDF info: 128 zero bytes.
    static let liveKitInfo = [UInt8](repeating: 0, count: 128)
    static let jitsiEncryptionSalt = Array("JFrameEncryptionKey".utf8)
    static let jitsiRatchetSalt = Array("JFrameRatchetKey".utf8)

    public init(profile: FrameCryptorProfile, ratchetSalt: [UInt8]? = nil) {
        self.profile = profile
        self.ratchetSalt = ratchetSalt ?? Array(FrameCryptorProfile.liveKitRatchetSalt.utf8)
    }

    /// The AES-GCM key of `material`.
    public func keySet(_ material: FrameKeyMaterial) throws -> FrameKeySet {
        FrameKeySet(material: material, cipher: try AESGCM(key: derive(material, count: keyCount, ratchet: false)))
    }

    /// The AES key bytes of `material` (tests compare them with published answers; nothing
    /// else reads them).
    package func keyBytes(_ material: FrameKeyMaterial) throws -> [UInt8] {
        try derive(material, count: keyCount, ratchet: false)
    }

    /// The material one ratchet step on: the same KDF with a 32-byte output.
    public func ratchet(_ material: FrameKeyMaterial) throws -> FrameKeyMaterial {
        try FrameKeyMaterial(kind: material.kind, bytes: derive(material, count: 32, ratchet: true))
    }

    private func derive(_ material: FrameKeyMaterial, count: Int, ratchet: Bool) throws -> [UInt8] {
        do {
            switch (profile, material.kind) {
            case (.livekit, .passphrase):
                return try PBKDF2.deriveKey(hash: .sha256, password: material.bytes, salt: ratchetSalt,
                                            iterations: Self.pbkdf2Iterations, count: count)
            case (.livekit, .raw):
                return try HKDF.deriveKey(hash: .sha256, inputKeyMaterial: material.bytes, salt: ratchetSalt,
                                          info: Self.liveKitInfo, count: count)
            case (.jitsi, .raw):
                return try HKDF.deriveKey(hash: .sha256, inputKeyMaterial: material.bytes,
                                          salt: ratchet ? Self.jitsiRatchetSalt : Self.jitsiEncryptionSalt, info: [], count: count)
            case (.jitsi, .passphrase):
                throw FrameCryptorError.invalidKey("Jitsi keys are raw key material (key=), not passphrases")
            }
        } catch let error as CryptoError {
            throw FrameCryptorError.invalidKey("key derivation failed: \(error)")
        }
    }
}
