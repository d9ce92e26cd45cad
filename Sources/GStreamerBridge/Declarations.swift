import CGStreamer
import Synchronization

/// An element's settings: a value type written by its properties and read when it starts,
/// guarded by one lock.
public final class SettingsStore<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    public init(_ value: Value) { mutex = Mutex(value) }
    /// A copy of the current settings.
    public var value: Value { mutex.withLock { $0 } }
    public func update<R: Sendable>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
}

/// The settings type of an element with declared properties: a value with defaults.
public protocol ElementSettings: Sendable {
    init()
}

/// An element whose properties write and read its `settings`.
public protocol HasSettings: ElementSubclass {
    associatedtype Settings: ElementSettings
    var settings: SettingsStore<Settings> { get }
}

/// A Swift enum that a property shows as a GEnum: gst-inspect lists its cases, gst-launch takes
/// their raw values (`side=send`). Case order is the numeric value (C applications use it).
public protocol PropertyEnum: CaseIterable, RawRepresentable, Sendable where RawValue == String {
    /// The GType's name, e.g. `GstRtpScriptTransformSide`.
    static var gTypeName: String { get }
    /// What gst-inspect prints for the case.
    var summary: String { get }
}

extension PropertyEnum {
    static var enumType: EnumType {
        EnumType(name: gTypeName, values: allCases.enumerated().map { (Int32($0.offset), $0.element.summary, $0.element.rawValue) })
    }
    var index: Int32 { Int32(Self.allCases.map(\.rawValue).firstIndex(of: rawValue) ?? 0) }
    init?(index: Int32) {
        guard index >= 0, index < Self.allCases.count else { return nil }
        self = Self.allCases[Self.allCases.index(Self.allCases.startIndex, offsetBy: Int(index))]
    }
}

/// One GObject property, declared once: what gst-inspect shows (name, blurb, range, default,
/// flags) and how it reads and writes the element. Build them with the static functions
/// (`.string`, `.uint`, `.enumeration`, `.counter`, ...) over the element's settings.
public struct ElementProperty<Element: ElementSubclass>: @unchecked Sendable {
    public let spec: PropertySpec
    let write: (Element, PropertyValue) -> Void
    let read: (Element) -> PropertyValue

    public init(spec: PropertySpec, write: @escaping (Element, PropertyValue) -> Void, read: @escaping (Element) -> PropertyValue) {
        self.spec = spec
        self.write = write
        self.read = read
    }

    /// What the bridge installs and dispatches.
    public var declaration: PropertyDeclaration {
        PropertyDeclaration(spec: spec,
                            write: { element, value in write(unsafeDowncast(element, to: Element.self), value) },
                            read: { read(unsafeDowncast($0, to: Element.self)) })
    }

    /// A read-only counter (guint64, 0 and up), read from the element.
    public static func counter(_ name: String, nick: String, blurb: String, _ read: @escaping (Element) -> UInt64) -> Self {
        Self(spec: PropertySpec(name, nick: nick, blurb: blurb, .uint64(min: 0, max: .max, default: 0), flags: .readOnly),
             write: { _, _ in }, read: { .uint64(read($0)) })
    }
}

extension ElementProperty where Element: HasSettings {
    public typealias Settings = Element.Settings

    private static func bound<Value>(_ spec: PropertySpec, _ keyPath: WritableKeyPath<Settings, Value>,
                                     from: @escaping (PropertyValue) -> Value?, to: @escaping (Value) -> PropertyValue) -> Self {
        nonisolated(unsafe) let keyPath = keyPath
        return Self(spec: spec,
                    write: { element, value in
                        guard let converted = from(value) else { return }
                        nonisolated(unsafe) let newValue = converted
                        element.settings.update { $0[keyPath: keyPath] = newValue }
                    },
                    read: { to($0.settings.value[keyPath: keyPath]) })
    }

    private static var defaults: Settings { Settings() }

    public static func string(_ name: String, nick: String, blurb: String, flags: PropertyFlags = [.readWrite, .mutableReady],
                              _ keyPath: WritableKeyPath<Settings, String?>) -> Self {
        bound(PropertySpec(name, nick: nick, blurb: blurb, .string(default: defaults[keyPath: keyPath]), flags: flags), keyPath,
              from: { .some($0.stringValue) }, to: { .string($0) })
    }

    /// A GstStructure, kept as its text (gst-launch writes `options="options,name=x"`).
    public static func structure(_ name: String, nick: String, blurb: String, flags: PropertyFlags = [.readWrite, .mutableReady],
                                 _ keyPath: WritableKeyPath<Settings, String?>) -> Self {
        bound(PropertySpec(name, nick: nick, blurb: blurb, .structure, flags: flags), keyPath,
              from: { .some($0.stringValue) }, to: { .structure($0) })
    }

    public static func bool(_ name: String, nick: String, blurb: String, flags: PropertyFlags = [.readWrite, .mutableReady],
                            _ keyPath: WritableKeyPath<Settings, Bool>) -> Self {
        bound(PropertySpec(name, nick: nick, blurb: blurb, .bool(default: defaults[keyPath: keyPath]), flags: flags), keyPath,
              from: { $0.boolValue }, to: { .bool($0) })
    }

    public static func uint(_ name: String, nick: String, blurb: String, range: ClosedRange<UInt32>,
                            flags: PropertyFlags = [.readWrite, .mutableReady], _ keyPath: WritableKeyPath<Settings, UInt32>) -> Self {
        let spec = PropertySpec(name, nick: nick, blurb: blurb,
                                .uint(min: range.lowerBound, max: range.upperBound, default: defaults[keyPath: keyPath]), flags: flags)
        return bound(spec, keyPath, from: { $0.intValue.flatMap(UInt32.init(exactly:)) }, to: { .uint($0) })
    }

    public static func int(_ name: String, nick: String, blurb: String, range: ClosedRange<Int32>,
                           flags: PropertyFlags = [.readWrite, .mutableReady], _ keyPath: WritableKeyPath<Settings, Int32>) -> Self {
        let spec = PropertySpec(name, nick: nick, blurb: blurb,
                                .int(min: range.lowerBound, max: range.upperBound, default: defaults[keyPath: keyPath]), flags: flags)
        return bound(spec, keyPath, from: { $0.intValue.flatMap(Int32.init(exactly:)) }, to: { .int($0) })
    }

    public static func uint64(_ name: String, nick: String, blurb: String, range: ClosedRange<UInt64>,
                              flags: PropertyFlags = [.readWrite, .mutableReady], _ keyPath: WritableKeyPath<Settings, UInt64>) -> Self {
        let spec = PropertySpec(name, nick: nick, blurb: blurb,
                                .uint64(min: range.lowerBound, max: range.upperBound, default: defaults[keyPath: keyPath]), flags: flags)
        return bound(spec, keyPath, from: { $0.uint64Value }, to: { .uint64($0) })
    }

    public static func double(_ name: String, nick: String, blurb: String, range: ClosedRange<Double>,
                              flags: PropertyFlags = [.readWrite, .mutableReady], _ keyPath: WritableKeyPath<Settings, Double>) -> Self {
        let spec = PropertySpec(name, nick: nick, blurb: blurb,
                                .double(min: range.lowerBound, max: range.upperBound, default: defaults[keyPath: keyPath]), flags: flags)
        return bound(spec, keyPath, from: { $0.doubleValue }, to: { .double($0) })
    }

    public static func enumeration<E: PropertyEnum>(_ name: String, nick: String, blurb: String,
                                                    flags: PropertyFlags = [.readWrite, .mutableReady],
                                                    _ keyPath: WritableKeyPath<Settings, E>) -> Self {
        let spec = PropertySpec(name, nick: nick, blurb: blurb, .enumeration(E.enumType, default: defaults[keyPath: keyPath].index), flags: flags)
        return bound(spec, keyPath, from: { $0.intValue.flatMap { E(index: Int32($0)) } }, to: { .enumeration($0.index) })
    }
}

/// A property as the bridge installs it: the spec and the type-erased accessors.
public struct PropertyDeclaration: @unchecked Sendable {
    public let spec: PropertySpec
    let write: (ElementSubclass, PropertyValue) -> Void
    let read: (ElementSubclass) -> PropertyValue
}

/// One GObject signal, declared once with its typed handler (action signals) or as a signal the
/// element emits (`emitSignal`) for applications to connect to.
public struct ElementSignal<Element: ElementSubclass>: @unchecked Sendable {
    public let spec: SignalSpec
    let handler: ((Element, [PropertyValue]) -> PropertyValue)?

    /// Emitted by the element: `name(parameters...)`.
    public static func emitted(_ name: String, parameters: [GType]) -> Self {
        Self(spec: SignalSpec(name, parameters: parameters, isAction: false), handler: nil)
    }

    /// Emitted by the element for a handler to answer: `name::detail(parameters...) -> returns`.
    /// Only the first connected handler runs; its return value is the answer.
    /// `marshaller` must match `parameters` and `returns` (`.generic` fits any).
    public static func emitted(_ name: String, parameters: [GType], returns: GType, detailed: Bool,
                               marshaller: SignalMarshaller = .generic) -> Self {
        Self(spec: SignalSpec(name, parameters: parameters, returns: returns, isAction: false,
                              isDetailed: detailed, firstHandlerWins: true, marshaller: marshaller), handler: nil)
    }

    /// Action `name (GstStructure) -> void`; the handler gets the structure's text (nil when NULL).
    public static func action(_ name: String, structure handler: @escaping (Element, String?) -> Void) -> Self {
        Self(spec: SignalSpec(name, parameters: [swift_type_structure()], isAction: true),
             handler: { element, arguments in
                 handler(element, arguments.first?.stringValue)
                 return .none
             })
    }

    /// Action `name (gchararray) -> gboolean`.
    public static func action(_ name: String, string handler: @escaping (Element, String?) -> Bool) -> Self {
        Self(spec: SignalSpec(name, parameters: [swift_type_string()], returns: swift_type_boolean(), isAction: true),
             handler: { element, arguments in .bool(handler(element, arguments.first?.stringValue)) })
    }

    /// Action `name () -> gboolean`.
    public static func action(_ name: String, returningBool handler: @escaping (Element) -> Bool) -> Self {
        Self(spec: SignalSpec(name, returns: swift_type_boolean(), isAction: true), handler: { element, _ in .bool(handler(element)) })
    }

    /// Action with any parameters and return type, for what the typed forms do not cover.
    public static func action(_ name: String, parameters: [GType], returns: GType = swift_type_none(),
                              _ handler: @escaping (Element, [PropertyValue]) -> PropertyValue) -> Self {
        Self(spec: SignalSpec(name, parameters: parameters, returns: returns, isAction: true), handler: handler)
    }

    public var declaration: SignalDeclaration {
        SignalDeclaration(spec: spec, handler: handler.map { handler in
            { element, arguments in handler(unsafeDowncast(element, to: Element.self), arguments) }
        })
    }
}

/// A signal as the bridge registers it.
public struct SignalDeclaration: @unchecked Sendable {
    public let spec: SignalSpec
    let handler: ((ElementSubclass, [PropertyValue]) -> PropertyValue)?
}
