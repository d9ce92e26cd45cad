import CGStreamer
import TransformCore

/// The GstStructure side of `TransformMessage`: what the elements' `options` property,
/// `post-message` action signal and `message` signal carry.
extension TransformMessage {
    /// Parses a GstStructure string such as `keys, key-id=(uint)3, key=(buffer)00112233`.
    public init(parsing text: String) throws {
        guard let structure = gst_structure_from_string(text, nil) else {
            // The text is not repeated: it may hold a key (a malformed `key=` field).
            throw TransformMessageError("\(Self.describeUnparsed(text)) is not a GstStructure; write it as `name, key=value, ...`, e.g. `options, name=senderTransform`")
        }
        defer { gst_structure_free(structure) }
        self.init(structure: structure)
    }

    /// A text that did not parse, described without its fields: its length, and its name
    /// when it starts with one.
    private static func describeUnparsed(_ text: String) -> String {
        let name = String(text.prefix { $0 != "," && $0 != ";" }).trimmingCharacters(in: " \t\n")
        let count = text.utf8.count
        guard isPlainName(name), !SecretRedaction.isSecretName(name), !SecretRedaction.looksLikeKeyMaterial(name) else {
            return "the \(count)-byte text"
        }
        return "the \(count)-byte text \"\(name), ...\""
    }

    private static func isPlainName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 64 else { return false }
        return name.utf8.allSatisfy { byte in
            let isDigit = byte >= 0x30 && byte <= 0x39
            let isLetter = (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
            return isDigit || isLetter || "_-+/:.".utf8.contains(byte)
        }
    }

    package init(structure: UnsafePointer<GstStructure>) {
        let fields: [Field] = (0..<gst_structure_n_fields(structure)).compactMap { index in
            guard let cKey = gst_structure_nth_field_name(structure, guint(index)),
                  let value = gst_structure_get_value(structure, cKey) else { return nil }
            let key = String(cString: cKey)
            return Self.read(value).map { Field(key: key, value: $0) }
        }
        self.init(name: String(cString: gst_structure_get_name(structure)), fields: fields)
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
