import CGStreamer

/// A value crossing the GValue boundary (properties, signal arguments and returns).
public enum PropertyValue: Sendable, Equatable {
    case none
    case bool(Bool)
    case int(Int32)
    case uint(UInt32)
    case int64(Int64)
    case uint64(UInt64)
    case double(Double)
    case string(String?)
    /// A registered GEnum's value.
    case enumeration(Int32)
    /// A GstStructure, serialized (`gst_structure_to_string`).
    case structure(String?)

    public var boolValue: Bool? { if case .bool(let v) = self { v } else { nil } }
    public var stringValue: String? {
        switch self {
        case .string(let v), .structure(let v): v
        default: nil
        }
    }
    public var intValue: Int? {
        switch self {
        case .int(let v): Int(v)
        case .uint(let v): Int(v)
        case .int64(let v): Int(v)
        case .uint64(let v): Int(clamping: v)
        case .enumeration(let v): Int(v)
        default: nil
        }
    }
    public var uint64Value: UInt64? {
        switch self {
        case .uint64(let v): v
        case .uint(let v): UInt64(v)
        default: nil
        }
    }
    public var doubleValue: Double? { if case .double(let v) = self { v } else { nil } }
}

/// GStreamer's own param flags (GST_PARAM_MUTABLE_*), which are macros in C.
public struct PropertyFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let readable = PropertyFlags(rawValue: UInt32(G_PARAM_READABLE.rawValue))
    public static let writable = PropertyFlags(rawValue: UInt32(G_PARAM_WRITABLE.rawValue))
    public static let readWrite: PropertyFlags = [.readable, .writable]
    /// Can be changed in READY (GST_PARAM_MUTABLE_READY).
    public static let mutableReady = PropertyFlags(rawValue: 1 << (8 + 2))
    /// Can be changed in PAUSED (GST_PARAM_MUTABLE_PAUSED).
    public static let mutablePaused = PropertyFlags(rawValue: 1 << (8 + 3))
    /// Can be changed in PLAYING (GST_PARAM_MUTABLE_PLAYING).
    public static let mutablePlaying = PropertyFlags(rawValue: 1 << (8 + 4))
    /// Read-only, and its value changes while running (G_PARAM_EXPLICIT_NOTIFY not implied).
    public static let readOnly: PropertyFlags = [.readable]
}

/// Describes one GObject property: what `gst-inspect-1.0` prints (blurb, range, default).
public struct PropertySpec: Sendable {
    public enum Kind: Sendable {
        case bool(default: Bool)
        case int(min: Int32, max: Int32, default: Int32)
        case uint(min: UInt32, max: UInt32, default: UInt32)
        case int64(min: Int64, max: Int64, default: Int64)
        case uint64(min: UInt64, max: UInt64, default: UInt64)
        case double(min: Double, max: Double, default: Double)
        case string(default: String?)
        case enumeration(EnumType, default: Int32)
        /// A GstStructure (gst-launch writes it as a string: `options,name=senderTransform`).
        case structure
    }
    public var name: String
    public var nick: String
    public var blurb: String
    public var kind: Kind
    public var flags: PropertyFlags

    public init(_ name: String, nick: String, blurb: String, _ kind: Kind, flags: PropertyFlags = .readWrite) {
        self.name = name
        self.nick = nick
        self.blurb = blurb
        self.kind = kind
        self.flags = flags
    }

    func makeParamSpec() -> UnsafeMutablePointer<GParamSpec> {
        let flags = GParamFlags(rawValue: Int32(bitPattern: self.flags.rawValue))
        let spec: UnsafeMutablePointer<GParamSpec>? = switch kind {
        case .bool(let d): g_param_spec_boolean(name, nick, blurb, d ? 1 : 0, flags)
        case .int(let lo, let hi, let d): g_param_spec_int(name, nick, blurb, lo, hi, d, flags)
        case .uint(let lo, let hi, let d): g_param_spec_uint(name, nick, blurb, lo, hi, d, flags)
        case .int64(let lo, let hi, let d): g_param_spec_int64(name, nick, blurb, gint64(lo), gint64(hi), gint64(d), flags)
        case .uint64(let lo, let hi, let d): g_param_spec_uint64(name, nick, blurb, UInt(lo), UInt(hi), UInt(d), flags)
        case .double(let lo, let hi, let d): g_param_spec_double(name, nick, blurb, lo, hi, d, flags)
        case .string(let d): g_param_spec_string(name, nick, blurb, d, flags)
        case .enumeration(let type, let d): g_param_spec_enum(name, nick, blurb, type.gtype, d, flags)
        case .structure: g_param_spec_boxed(name, nick, blurb, swift_type_structure(), flags)
        }
        return spec!
    }
}

/// A GEnum type registered from Swift, for enumerated properties (gst-inspect lists its values).
public final class EnumType: @unchecked Sendable {
    public let gtype: GType

    /// `values`: (value, C identifier-ish name, nick used on the command line).
    public init(name: String, values: [(Int32, String, String)]) {
        if case let existing = g_type_from_name(name), existing != 0 {
            gtype = existing
            return
        }
        // GLib keeps the table and its strings for the life of the process.
        let table = UnsafeMutablePointer<GEnumValue>.allocate(capacity: values.count + 1)
        for (index, (value, valueName, nick)) in values.enumerated() {
            table[index] = GEnumValue(value: value, value_name: g_strdup(valueName), value_nick: g_strdup(nick))
        }
        table[values.count] = GEnumValue(value: 0, value_name: nil, value_nick: nil)
        // The type name is copied (interned) by GLib; a g_strdup'd one leaked (LeakSanitizer).
        gtype = g_enum_register_static(name, table)
    }
}

// MARK: GValue conversion

enum GValueConversion {
    static func read(_ value: UnsafePointer<GValue>) -> PropertyValue {
        let type = value.pointee.g_type
        switch type {
        case swift_type_boolean(): return .bool(g_value_get_boolean(value) != 0)
        case swift_type_int(): return .int(g_value_get_int(value))
        case swift_type_uint(): return .uint(g_value_get_uint(value))
        case swift_type_int64(): return .int64(Int64(g_value_get_int64(value)))
        case swift_type_uint64(): return .uint64(UInt64(g_value_get_uint64(value)))
        case swift_type_double(): return .double(g_value_get_double(value))
        case swift_type_string(): return .string(g_value_get_string(value).map { String(cString: $0) })
        case swift_type_structure():
            guard let structure = gst_value_get_structure(value) else { return .structure(nil) }
            let text = gst_structure_to_string(structure)
            defer { g_free(text) }
            return .structure(text.map { String(cString: $0) })
        default:
            if g_type_is_a(type, swift_type_enum()) != 0 { return .enumeration(g_value_get_enum(value)) }
            return .none
        }
    }

    /// Writes `property` into an initialised GValue of the matching type.
    static func write(_ property: PropertyValue, into value: UnsafeMutablePointer<GValue>) {
        switch property {
        case .none: break
        case .bool(let v): g_value_set_boolean(value, v ? 1 : 0)
        case .int(let v): g_value_set_int(value, v)
        case .uint(let v): g_value_set_uint(value, v)
        case .int64(let v): g_value_set_int64(value, gint64(v))
        case .uint64(let v): g_value_set_uint64(value, UInt(v))
        case .double(let v): g_value_set_double(value, v)
        case .string(let v): g_value_set_string(value, v)
        case .enumeration(let v): g_value_set_enum(value, v)
        case .structure(let text):
            guard let text, let structure = gst_structure_from_string(text, nil) else {
                g_value_set_boxed(value, nil)
                return
            }
            g_value_take_boxed(value, structure)
        }
    }
}
