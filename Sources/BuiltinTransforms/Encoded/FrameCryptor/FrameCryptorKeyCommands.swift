import EncodedStreams
import FrameCryptor
import MediaStreams

/// A key given to `framecryptor` (in its `options` or a `post-message`): a passphrase or raw
/// key material, for one key index.
struct FrameCryptorKeyInput: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    var material: FrameKeyMaterial
    var keyIndex: Int

    /// Names the key, never shows it (`FrameKeyMaterial` redacts itself too).
    var description: String { "FrameCryptorKeyInput(key-index: \(keyIndex), \(material))" }
    var debugDescription: String { description }
    var customMirror: Mirror { Mirror(self, children: ["keyIndex": keyIndex, "material": material], displayStyle: .struct) }

    /// `passphrase=` (PBKDF2) or `key=` (raw key material, HKDF: a `(buffer)` or hexadecimal
    /// string), and `key-index=` (default 0). Errors name the fields, never their values.
    static func parse(_ message: TransformMessage, context: String) throws -> FrameCryptorKeyInput {
        let passphrase = message["passphrase"]
        let key = message["key"]
        if passphrase != nil, key != nil {
            throw FrameCryptorConfigurationError("\(context): give passphrase= or key=, not both")
        }
        let material: FrameKeyMaterial
        if let passphrase {
            guard case .string(let text) = passphrase else {
                throw FrameCryptorConfigurationError("\(context): passphrase must be a string, e.g. passphrase=(string)\"a shared secret\"")
            }
            material = try FrameKeyMaterial.passphrase(text)
        } else if key != nil {
            guard let bytes = message.bytes("key") else {
                throw FrameCryptorConfigurationError("\(context): key is not a (buffer) or a string of hexadecimal digits (an even number of 0-9, a-f)")
            }
            guard bytes.count >= 16 else {
                throw FrameCryptorConfigurationError("\(context): the key material has \(bytes.count) bytes; give at least 16 (32 hexadecimal digits)")
            }
            material = try FrameKeyMaterial(kind: .raw, bytes: bytes)
        } else {
            throw FrameCryptorConfigurationError("\(context) needs passphrase=<shared passphrase> (PBKDF2, as LiveKit's setKey) or key=<hexadecimal key material> (HKDF, as setRawKey / Jitsi keys)")
        }
        return FrameCryptorKeyInput(material: material, keyIndex: try keyIndex(in: message, context: context) ?? 0)
    }

    /// `key-index`: an integer from 0 to 255.
    static func keyIndex(in message: TransformMessage, context: String) throws -> Int? {
        let value: Int?
        switch message["key-index"] {
        case nil: return nil
        case .uint(let number)?: value = Int(exactly: number)
        case .int(let number)?: value = number
        case .string(let text)?: value = Int(text)
        default: value = nil
        }
        guard let value, (0...255).contains(value) else {
            throw FrameCryptorConfigurationError("\(context): key-index must be an integer from 0 to 255 (and below key-ring-size), e.g. key-index=(int)0")
        }
        return value
    }
}

/// What a `post-message` asks `framecryptor` to do.
enum FrameCryptorCommand {
    /// Fill a key slot (and, on the send side, encrypt with it from the next frame).
    case set(FrameCryptorKeyInput)
    /// Move a key slot one ratchet step on.
    case ratchet(keyIndex: Int)
    /// Reply with `framecryptor-stats`.
    case stats

    /// The command of `message`, nil for messages meant for other transforms of the chain.
    init?(_ message: TransformMessage) throws {
        switch message.name {
        case "set-key": self = .set(try FrameCryptorKeyInput.parse(message, context: "set-key"))
        case "ratchet-key": self = .ratchet(keyIndex: try FrameCryptorKeyInput.keyIndex(in: message, context: "ratchet-key") ?? 0)
        case "get-stats": self = .stats
        default: return nil
        }
    }
}

struct FrameCryptorConfigurationError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = "framecryptor: " + description }
}
