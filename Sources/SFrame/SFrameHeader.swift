/// Why SFrame refused a frame or an operation.
public enum SFrameError: Error, Equatable, CustomStringConvertible {
    /// Malformed header or a frame too short for its header and tag (`syntax`).
    case syntax(String)
    /// No key for the frame's key id (`keyID`).
    case unknownKeyID(UInt64)
    /// The tag did not verify (`authentication`).
    case authentication
    /// A counter already accepted under this key id, or older than the replay window (`replay`).
    case replay(keyID: UInt64, counter: UInt64)
    /// The sender has no key: it sends nothing rather than plaintext.
    case noKey
    /// The counter of the key is exhausted: encrypting again would reuse a nonce.
    case counterExhausted(UInt64)
    /// A key of the wrong size, or another bad argument.
    case invalidArgument(String)

    /// The kind as the web's SFrameTransform error events name it.
    public var kind: String {
        switch self {
        case .syntax: "syntax"
        case .unknownKeyID: "keyID"
        case .authentication: "authentication"
        case .replay: "replay"
        case .noKey: "no-key"
        case .counterExhausted: "counter-exhausted"
        case .invalidArgument: "other"
        }
    }

    public var description: String {
        switch self {
        case .syntax(let why): "syntax: \(why)"
        case .unknownKeyID(let kid): "keyID: no key for key id \(kid)"
        case .authentication: "authentication: the frame did not authenticate"
        case .replay(let kid, let counter): "replay: counter \(counter) of key id \(kid) was already accepted or is older than the replay window"
        case .noKey: "no-key: no encryption key set; frames are dropped until one is (set-key)"
        case .counterExhausted(let kid): "the counter of key id \(kid) is exhausted; set a new key before encrypting more"
        case .invalidArgument(let why): why
        }
    }
}

/// The SFrame header (RFC 9605 section 4.3): a config byte `X KKK Y CCC` followed by the key
/// id and the counter when they do not fit in three bits, each big-endian in the fewest bytes.
public struct SFrameHeader: Equatable, Sendable {
    public var keyID: UInt64
    public var counter: UInt64

    public init(keyID: UInt64, counter: UInt64) {
        self.keyID = keyID
        self.counter = counter
    }

    /// Size of the encoded header.
    public var count: Int {
        1 + (keyID < 8 ? 0 : Self.minimumBytes(keyID)) + (counter < 8 ? 0 : Self.minimumBytes(counter))
    }

    public var encoded: [UInt8] {
        var config: UInt8 = 0
        var bytes: [UInt8] = [0]
        if keyID < 8 {
            config |= UInt8(keyID) << 4
        } else {
            let length = Self.minimumBytes(keyID)
            config |= 0x80 | UInt8(length - 1) << 4
            bytes += Self.bigEndian(keyID, count: length)
        }
        if counter < 8 {
            config |= UInt8(counter)
        } else {
            let length = Self.minimumBytes(counter)
            config |= 0x08 | UInt8(length - 1)
            bytes += Self.bigEndian(counter, count: length)
        }
        bytes[0] = config
        return bytes
    }

    /// Writes the encoded header at the start of `output` (at least `count` bytes) without an
    /// allocation; returns its size.
    @discardableResult
    public func write(into output: UnsafeMutableRawBufferPointer) -> Int {
        var offset = 1
        var config: UInt8 = 0
        func put(_ value: UInt64, extendedBit: UInt8, shift: UInt8) {
            if value < 8 {
                config |= UInt8(value) << shift
                return
            }
            let length = Self.minimumBytes(value)
            config |= extendedBit | UInt8(length - 1) << shift
            for index in 0..<length {
                output[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(length - 1 - index)))
            }
            offset += length
        }
        put(keyID, extendedBit: 0x80, shift: 4)
        put(counter, extendedBit: 0x08, shift: 0)
        output[0] = config
        return offset
    }

    /// Parses the header at the start of `bytes`; returns it and its size.
    public static func decode(_ bytes: some Collection<UInt8>) throws -> (SFrameHeader, Int) {
        guard let config = bytes.first else { throw SFrameError.syntax("empty frame: no SFrame header") }
        var index = bytes.index(after: bytes.startIndex)
        var consumed = 1
        func field(extended: Bool, value: UInt8, name: String) throws -> UInt64 {
            guard extended else { return UInt64(value) }
            let length = Int(value) + 1
            guard bytes.distance(from: index, to: bytes.endIndex) >= length else {
                throw SFrameError.syntax("header truncated: the \(name) needs \(length) bytes")
            }
            var result: UInt64 = 0
            for _ in 0..<length {
                result = result << 8 | UInt64(bytes[index])
                index = bytes.index(after: index)
            }
            consumed += length
            return result
        }
        let keyID = try field(extended: config & 0x80 != 0, value: (config >> 4) & 0x07, name: "key id")
        let counter = try field(extended: config & 0x08 != 0, value: config & 0x07, name: "counter")
        return (SFrameHeader(keyID: keyID, counter: counter), consumed)
    }

    static func minimumBytes(_ value: UInt64) -> Int {
        max(1, (64 - value.leadingZeroBitCount + 7) / 8)
    }

    static func bigEndian(_ value: UInt64, count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64(count - 1 - $0))) }
    }
}
