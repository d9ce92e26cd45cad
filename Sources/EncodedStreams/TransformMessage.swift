import CGStreamer

/// A message between an application and a running transform, and the transform's `options`:
/// the Swift face of a GstStructure (`name, key=value, ...`), which is what the element's
/// `options` property, `post-message` action signal and `message` signal carry. It plays the
/// part of the web's structured-clone messages over a MessagePort.
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
    }

    public var name: String
    /// In the order they were given.
    public private(set) var fields: [Field]

    public init(_ name: String, _ fields: KeyValuePairs<String, Value> = [:]) {
        self.name = name
        self.fields = fields.map { Field(key: $0.key, value: $0.value) }
    }

    /// Parses a GstStructure string such as `keys, key-id=(uint)3, key=(buffer)00112233`.
    public init(parsing text: String) throws {
        guard let structure = gst_structure_from_string(text, nil) else {
            throw TransformMessageError("\"\(text)\" is not a GstStructure; write it as `name, key=value, ...`, e.g. `options, name=senderTransform`")
        }
        defer { gst_structure_free(structure) }
        self.init(structure: structure)
    }

    package init(structure: UnsafePointer<GstStructure>) {
        name = String(cString: gst_structure_get_name(structure))
        fields = (0..<gst_structure_n_fields(structure)).compactMap { index in
            guard let cKey = gst_structure_nth_field_name(structure, guint(index)),
                  let value = gst_structure_get_value(structure, cKey) else { return nil }
            let key = String(cString: cKey)
            return Self.read(value).map { Field(key: key, value: $0) }
        }
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

    /// `gst_structure_to_string` of the message.
    public var description: String {
        guard let structure = makeStructure() else { return name }
        defer { gst_structure_free(structure) }
        guard let text = gst_structure_to_string(structure) else { return name }
        defer { g_free(text) }
        return String(cString: text)
    }

    /// A new GstStructure (transfer full), or nil when `name` is not a valid structure name.
    package func makeStructure() -> UnsafeMutablePointer<GstStructure>? {
        guard let structure = gst_structure_new_empty(name) else { return nil }
        for field in fields {
            var value = GValue()
            Self.write(field.value, into: &value)
            gst_structure_take_value(structure, field.key, &value)
        }
        return structure
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
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

    private static func read(_ value: UnsafePointer<GValue>) -> Value? {
        switch value.pointee.g_type {
        case swift_type_string(): return g_value_get_string(value).map { .string(String(cString: $0)) }
        case swift_type_int(): return .int(Int(g_value_get_int(value)))
        case swift_type_int64(): return .int(Int(g_value_get_int64(value)))
        case swift_type_uint(): return .uint(UInt(g_value_get_uint(value)))
        case swift_type_uint64(): return .uint(UInt(g_value_get_uint64(value)))
        case swift_type_double(): return .double(g_value_get_double(value))
        case swift_type_boolean(): return .bool(g_value_get_boolean(value) != 0)
        case gst_buffer_get_type():
            guard let boxed = g_value_get_boxed(value) else { return .bytes([]) }
            let buffer = boxed.assumingMemoryBound(to: GstBuffer.self)
            var bytes = [UInt8](repeating: 0, count: Int(gst_buffer_get_size(buffer)))
            _ = bytes.withUnsafeMutableBytes { gst_buffer_extract(buffer, 0, $0.baseAddress, gsize($0.count)) }
            return .bytes(bytes)
        default:
            // Anything else (fractions, lists, ...) is passed as its serialized text.
            guard let text = gst_value_serialize(value) else { return nil }
            defer { g_free(text) }
            return .string(String(cString: text))
        }
    }

    private static func write(_ field: Value, into value: UnsafeMutablePointer<GValue>) {
        switch field {
        case .string(let text):
            g_value_init(value, swift_type_string())
            g_value_set_string(value, text)
        case .int(let number):
            if let small = Int32(exactly: number) {
                g_value_init(value, swift_type_int())
                g_value_set_int(value, small)
            } else {
                g_value_init(value, swift_type_int64())
                g_value_set_int64(value, gint64(number))
            }
        case .uint(let number):
            if let small = UInt32(exactly: number) {
                g_value_init(value, swift_type_uint())
                g_value_set_uint(value, small)
            } else {
                g_value_init(value, swift_type_uint64())
                g_value_set_uint64(value, guint64(number))
            }
        case .double(let number):
            g_value_init(value, swift_type_double())
            g_value_set_double(value, number)
        case .bool(let flag):
            g_value_init(value, swift_type_boolean())
            g_value_set_boolean(value, flag ? 1 : 0)
        case .bytes(let bytes):
            g_value_init(value, gst_buffer_get_type())
            let buffer = gst_buffer_new_allocate(nil, gsize(bytes.count), nil)!
            _ = bytes.withUnsafeBytes { gst_buffer_fill(buffer, 0, $0.baseAddress, gsize($0.count)) }
            g_value_take_boxed(value, buffer)
        }
    }
}

public struct TransformMessageError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
