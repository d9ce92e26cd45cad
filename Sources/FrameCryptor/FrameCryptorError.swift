/// Why `framecryptor` refused a frame or a key. Texts name sizes, indices and fields, never
/// key bytes, passphrases or frame bytes.
public enum FrameCryptorError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Sender without a key for its current key index: nothing is sent rather than plaintext.
    case noKey(keyIndex: Int)
    /// Receiver: no key in the slot the frame's trailer names.
    case missingKey(keyIndex: Int)
    /// Receiver: the frame did not authenticate with the slot's key nor any ratchet step of it.
    case authentication(keyIndex: Int)
    /// Receiver: the slot's key failed more than `failure-tolerance` times; its frames are
    /// dropped until a new key is set (or ratcheted to).
    case keyInvalidated(keyIndex: Int)
    /// A frame too short for its clear bytes, tag and trailer, a key index outside the ring,
    /// or an H.264/H.265 frame without a slice.
    case syntax(String)
    /// The trailer's IV length is not 12.
    case ivLength(Int)
    /// H.264/H.265: the bytes after the clear ones are not valid emulation-prevention escaping.
    case escaping(String)
    /// A frame ending in the server-injected-frame trailer that is not one of the known blank
    /// frames (an unauthenticated frame: never passed on).
    case serverInjected(String)
    /// A key, passphrase or key index refused (configuration).
    case invalidKey(String)

    /// The kind as counted in `framecryptor-stats` and reported in `framecryptor-error`.
    public var kind: String {
        switch self {
        case .noKey: "no-key"
        case .missingKey: "missing-key"
        case .authentication: "authentication"
        case .keyInvalidated: "key-invalidated"
        case .syntax: "syntax"
        case .ivLength: "iv-length"
        case .escaping: "escaping"
        case .serverInjected: "server-injected"
        case .invalidKey: "invalid-key"
        }
    }

    /// The key index the failure concerns, when there is one.
    public var keyIndex: Int? {
        switch self {
        case .noKey(let index), .missingKey(let index), .authentication(let index), .keyInvalidated(let index): index
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .noKey(let index): "no-key: no encryption key at key index \(index); frames are dropped until one is set (set-key)"
        case .missingKey(let index): "missing-key: no key at key index \(index) (set-key with key-index=\(index))"
        case .authentication(let index): "authentication: the frame did not decrypt with the key at key index \(index) nor its ratchet steps (wrong key or passphrase, or a changed frame)"
        case .keyInvalidated(let index): "key-invalidated: the key at key index \(index) failed more often than failure-tolerance allows; its frames are dropped until a new key is set"
        case .syntax(let why): "syntax: \(why)"
        case .ivLength(let count): "iv-length: the trailer gives a \(count)-byte IV; LiveKit and Jitsi frames carry 12"
        case .escaping(let why): "escaping: \(why)"
        case .serverInjected(let why): "server-injected: \(why)"
        case .invalidKey(let why): why
        }
    }
}
