/// A message between an application and a running transform, and an element's `options`: a
/// GstStructure's content (`name, key=value, ...`) as a Swift value. It plays the part of the
/// web's structured-clone messages over a MessagePort. `description` is the GstStructure text
/// (as `gst_structure_to_string` writes it); the elements convert to and from GstStructure.
public struct TransformMessage: Sendable, Equatable, CustomStringConvertible {
    public enum Value: Sendable, Equatable {
        case string(String)
        case int(Int)
        case uint(UInt)
        case double(Double)
        case bool(Bool)
        /// A GstBuffer field, written `(buffer)0a1b2c` in a structure string.
        case bytes([UInt8])
    }

    public struct Field: Sendable, Equatable {
        public var key: String
        public var value: Value
        public init(key: String, value: Value) {
            self.key = key
            self.value = value
        }
    }

    public var name: String
    /// In the order they were given.
    public private(set) var fields: [Field]

    public init(_ name: String, _ fields: KeyValuePairs<String, Value> = [:]) {
        self.name = name
        self.fields = fields.map { Field(key: $0.key, value: $0.value) }
    }

    public init(name: String, fields: [Field]) {
        self.name = name
        self.fields = fields
    }

    public subscript(key: String) -> Value? {
        get { fields.first { $0.key == key }?.value }
        set {
            let index = fields.firstIndex { $0.key == key }
            switch (index, newValue) {
            case (let index?, let value?): fields[index].value = value
            case (let index?, nil): fields.remove(at: index)
            case (nil, let value?): fields.append(Field(key: key, value: value))
            case (nil, nil): break
            }
        }
    }

    public func string(_ key: String) -> String? {
        if case .string(let text) = self[key] { text } else { nil }
    }

    /// Any integer field (signed or unsigned), or a string holding a decimal integer.
    public func integer(_ key: String) -> Int? {
        switch self[key] {
        case .int(let value): value
        case .uint(let value): Int(exactly: value)
        case .string(let text): Int(text)
        default: nil
        }
    }

    public func bool(_ key: String) -> Bool? {
        switch self[key] {
        case .bool(let value): value
        case .string(let text): ["true", "yes", "1"].contains(text.lowercased()) ? true : (["false", "no", "0"].contains(text.lowercased()) ? false : nil)
        default: nil
        }
    }

    /// A `(buffer)` field, or a string of hexadecimal digits.
    public func bytes(_ key: String) -> [UInt8]? {
        switch self[key] {
        case .bytes(let bytes): bytes
        case .string(let text): Self.hexBytes(text)
        default: nil
        }
    }

    /// The GstStructure text: `name, key=(type)value, ...;` with GStreamer's typing and quoting
    /// (an Int that fits 32 bits is `(int)`, a larger one `(gint64)`; likewise `(uint)`/`(guint64)`).
    public var description: String {
        var text = name
        for field in fields {
            text += ", \(field.key)=\(Self.serialize(field.value))"
        }
        return text + ";"
    }

    package static func serialize(_ value: Value) -> String {
        switch value {
        case .string(let string): "(string)" + quoted(string)
        case .int(let number): Int32(exactly: number) != nil ? "(int)\(number)" : "(gint64)\(number)"
        case .uint(let number): UInt32(exactly: number) != nil ? "(uint)\(number)" : "(guint64)\(number)"
        case .double(let number): "(double)\(number)"
        case .bool(let flag): "(boolean)\(flag)"
        case .bytes(let bytes): "(buffer)" + bytes.map { hexDigits[Int($0 >> 4)] + hexDigits[Int($0 & 0xf)] }.joined()
        }
    }

    private static let hexDigits = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]

    /// GStreamer's rule: letters, digits and `_-+/:.` stand alone; anything else puts the string
    /// in double quotes, with a backslash before printable ASCII and octal escapes for the rest.
    /// `NULL` is quoted too: standing alone, GStreamer's parser reads it as no string at all.
    private static func quoted(_ string: String) -> String {
        func plain(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || "_-+/:.".utf8.contains(byte)
        }
        let bytes = Array(string.utf8)
        if !bytes.isEmpty && bytes.allSatisfy(plain) && string != "NULL" { return string }
        var result = "\""
        for byte in bytes {
            if plain(byte) {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else if byte < 0x20 || byte >= 0x7f {
                result += "\\" + String(byte >> 6) + String((byte >> 3) & 7) + String(byte & 7)
            } else {
                result += "\\" + String(Unicode.Scalar(byte))
            }
        }
        return result + "\""
    }

    package static func hexBytes(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

public struct TransformMessageError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
