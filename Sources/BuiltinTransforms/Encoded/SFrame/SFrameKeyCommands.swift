import EncodedStreams
import MediaStreams
import SFrame

/// A key given to the `sframe` transform: in its `options` or in a `post-message`.
struct SFrameKeyInput: Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    var keyID: UInt64
    var baseKey: [UInt8]

    /// Names the key, never shows it (also in `dump` and test failure messages).
    var description: String { "SFrameKeyInput(key-id: \(keyID), base key: \(baseKey.count) bytes \(SecretRedaction.placeholder))" }
    var debugDescription: String { description }
    var customMirror: Mirror { Mirror(self, children: ["keyID": keyID], displayStyle: .struct) }

    /// Shorter base keys are refused: SFrame derives the AES key from it with HKDF, which
    /// cannot add entropy that the base key lacks.
    static let minimumKeyCount = 16
}

/// What a `post-message` asks the `sframe` transform to do.
enum SFrameKeyCommand: Equatable {
    /// Sender: encrypt with this key from the next frame. Receiver: same as `add`.
    case set(SFrameKeyInput)
    /// Receiver: hold this key too (replaces a key with the same key id).
    case add(SFrameKeyInput)
    /// Receiver: forget the key with this key id.
    case remove(keyID: UInt64)
    /// Reply with an `sframe-stats` message.
    case stats

    /// The command of `message`, nil for messages meant for other transforms of the chain.
    init?(_ message: TransformMessage) throws {
        switch message.name {
        case "set-key": self = .set(try Self.key(in: message))
        case "add-key": self = .add(try Self.key(in: message))
        case "remove-key":
            guard let keyID = try Self.keyID(in: message) else {
                throw SFrameConfigurationError("remove-key needs key-id, e.g. `remove-key, key-id=(guint64)1`")
            }
            self = .remove(keyID: keyID)
        case "get-stats": self = .stats
        default: return nil
        }
    }

    /// `key` (a `(buffer)` or hexadecimal string) and `key-id` (default 0).
    static func key(in message: TransformMessage, context: String? = nil) throws -> SFrameKeyInput {
        let place = context ?? message.name
        guard message["key"] != nil else {
            throw SFrameConfigurationError("\(place) needs key=<base key>: a (buffer) or a string of hexadecimal digits, at least \(SFrameKeyInput.minimumKeyCount) bytes, e.g. key=(string)000102030405060708090a0b0c0d0e0f")
        }
        guard let bytes = message.bytes("key") else {
            throw SFrameConfigurationError("\(place): key is not a (buffer) or a string of hexadecimal digits (an even number of 0-9, a-f)")
        }
        guard bytes.count >= SFrameKeyInput.minimumKeyCount else {
            throw SFrameConfigurationError("\(place): the key has \(bytes.count) bytes; SFrame base keys need at least \(SFrameKeyInput.minimumKeyCount) (\(2 * SFrameKeyInput.minimumKeyCount) hexadecimal digits)")
        }
        return SFrameKeyInput(keyID: try keyID(in: message) ?? 0, baseKey: bytes)
    }

    /// `key-id`: any non-negative integer field (up to 2^64-1), or a decimal string.
    static func keyID(in message: TransformMessage) throws -> UInt64? {
        switch message["key-id"] {
        case nil: return nil
        case .uint(let value)?: return UInt64(value)
        case .int(let value)? where value >= 0: return UInt64(value)
        case .string(let text)?: if let value = UInt64(text) { return value }
        default: break
        }
        throw SFrameConfigurationError("\(message.name): key-id must be an integer from 0 to 18446744073709551615, e.g. key-id=(guint64)1")
    }
}

/// The keys in the element's `options`: `key` + `key-id` (the sender's key, or one receiver
/// key), and for receivers holding several, `keys="1:00112233...,2:44556677..."`.
struct SFrameOptionKeys {
    var keys: [SFrameKeyInput] = []

    init(_ options: TransformMessage) throws {
        if options["key"] != nil {
            keys.append(try SFrameKeyCommand.key(in: options, context: "options"))
        } else if options["key-id"] != nil {
            throw SFrameConfigurationError("options: key-id is given without key=<hexadecimal base key>")
        }
        if let list = options.string("keys") {
            for (number, entry) in list.split(separator: ",").enumerated() {
                let parts = entry.split(separator: ":", maxSplits: 1)
                guard parts.count == 2, let keyID = UInt64(parts[0].filter { $0 != " " }) else {
                    // Never the entry itself: it holds a key.
                    throw SFrameConfigurationError("options: entry \(number + 1) of keys= is malformed; write key-id:hexadecimal-key pairs separated by commas, e.g. keys=\"1:000102...0f,2:101112...1f\"")
                }
                let key = try SFrameKeyCommand.key(in: TransformMessage("options", ["key": .string(String(parts[1].filter { $0 != " " }))]),
                                                   context: "options: keys entry \(keyID)")
                keys.append(SFrameKeyInput(keyID: keyID, baseKey: key.baseKey))
            }
        } else if options["keys"] != nil {
            throw SFrameConfigurationError("options: keys must be a string of key-id:hexadecimal-key pairs separated by commas")
        }
    }
}

struct SFrameConfigurationError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = "sframe: " + description }
}

extension CipherSuite {
    /// A suite named by its registry name (`AES_128_GCM_SHA256_128`, any case, `-` or `_`)
    /// or its number (`4`, `0x0004`).
    init?(name: String) {
        let normalized = String(name.uppercased().map { $0 == "-" ? "_" : $0 })
        if let match = CipherSuite.allCases.first(where: { $0.description == normalized }) {
            self = match
        } else if normalized.hasPrefix("0X"), let value = UInt16(normalized.dropFirst(2), radix: 16), let match = CipherSuite(rawValue: value) {
            self = match
        } else if let value = UInt16(normalized), let match = CipherSuite(rawValue: value) {
            self = match
        } else {
            return nil
        }
    }
}
