import CGStreamer
import Synchronization

/// Everything the bridge knows about one Swift-implemented GType. Created once per type at
/// registration and never freed (GTypes are never unregistered either).
final class TypeRecord: @unchecked Sendable {
    let swiftClass: ElementSubclass.Type
    let parentType: GType
    /// Byte offset, inside the GObject instance, of the slot holding the retained Swift object.
    let implementationOffset: Int
    /// Installed properties, indexed by property id - 1.
    var properties: [PropertyDeclaration] = []
    /// Action signal handlers, by signal name.
    var actions: [String: (ElementSubclass, [PropertyValue]) -> PropertyValue] = [:]

    init(swiftClass: ElementSubclass.Type, parentType: GType, implementationOffset: Int) {
        self.swiftClass = swiftClass
        self.parentType = parentType
        self.implementationOffset = implementationOffset
    }
}

/// Registers Swift classes deriving from `ElementSubclass` as GTypes.
///
/// The GObject instance is the parent's instance struct followed by one pointer slot that holds
/// a retained reference to the Swift object; the Swift object lives exactly as long as the
/// GObject (created in instance_init, released in finalize). Per-type data travels as qdata on
/// the GType, so every C callback is a non-generic, non-capturing function.
public enum TypeRegistry {
    nonisolated(unsafe) private static var lock = GMutex()
    nonisolated(unsafe) private static var registered: [ObjectIdentifier: GType] = [:]
    static let recordQuark: GQuark = g_quark_from_string("swift-gst-bridge-type-record")

    /// The types registered so far and their records, for `record(forType:)` on every buffer
    /// without GLib's type lock and qdata lookup: an entry is written once (under `lock`) before
    /// `knownCount` publishes it, and read only below the published count.
    private static let knownCapacity = 32
    nonisolated(unsafe) private static let knownTypes = UnsafeMutablePointer<(type: GType, record: UnsafeMutableRawPointer)>
        .allocate(capacity: knownCapacity)
    private static let knownCount = Atomic<Int>(0)

    /// Registers `swiftClass` (idempotent) and returns its GType.
    public static func register(_ swiftClass: ElementSubclass.Type) -> GType {
        g_mutex_lock(&lock)
        defer { g_mutex_unlock(&lock) }
        if let type = registered[ObjectIdentifier(swiftClass)] { return type }

        let parentType = swiftClass.parentType
        var query = GTypeQuery()
        g_type_query(parentType, &query)
        precondition(query.type != 0, "parent type of \(swiftClass.typeName) is not a registered type")
        let slotAlignment = MemoryLayout<UnsafeRawPointer>.alignment
        let offset = (Int(query.instance_size) + slotAlignment - 1) / slotAlignment * slotAlignment
        let record = TypeRecord(swiftClass: swiftClass, parentType: parentType, implementationOffset: offset)
        let recordPointer = Unmanaged.passRetained(record).toOpaque()

        var info = GTypeInfo()
        info.class_size = guint16(query.class_size)
        info.class_init = { klass, classData in
            let record = Unmanaged<TypeRecord>.fromOpaque(classData!).takeUnretainedValue()
            g_type_set_qdata(swift_type_from_class(klass), TypeRegistry.recordQuark, UnsafeMutableRawPointer(mutating: classData))
            ClassInitialization.initialize(klass: klass!, record: record)
        }
        info.class_data = UnsafeRawPointer(recordPointer)
        info.instance_size = guint16(offset + MemoryLayout<UnsafeRawPointer>.size)
        info.instance_init = { instance, klass in
            guard let instance, let klass, let record = TypeRegistry.record(forType: swift_type_from_class(klass))
            else { return }
            let implementation = record.swiftClass.init(
                element: UnsafeMutableRawPointer(instance).assumingMemoryBound(to: GstElement.self))
            let slot = (UnsafeMutableRawPointer(instance) + record.implementationOffset)
                .assumingMemoryBound(to: UnsafeMutableRawPointer?.self)
            let object = Unmanaged.passRetained(implementation).toOpaque()
            slot.pointee = object
            // The element reaches streaming threads through GLib (a pad function, a GstTask),
            // whose futex-based hand-offs ThreadSanitizer cannot see; `implementation(of:)`
            // acquires the instance's address, the pad functions (given the Swift object) the
            // object's.
            ThreadSanitizerEdges.release(UnsafeMutableRawPointer(instance))
            ThreadSanitizerEdges.release(object)
        }
        let type = swiftClass.typeName.withCString { g_type_register_static(parentType, $0, &info, GTypeFlags(0)) }
        precondition(type != 0, "g_type_register_static failed for \(swiftClass.typeName)")
        registered[ObjectIdentifier(swiftClass)] = type
        let known = knownCount.load(ordering: .relaxed)
        if known < knownCapacity {
            (knownTypes + known).initialize(to: (type, recordPointer))
            knownCount.store(known + 1, ordering: .releasing)
        }
        return type
    }

    /// The record of the nearest Swift-implemented type at or above `type`.
    static func record(forType type: GType) -> TypeRecord? {
        let known = knownCount.load(ordering: .acquiring)
        for index in 0..<known where knownTypes[index].type == type {
            return Unmanaged<TypeRecord>.fromOpaque(knownTypes[index].record).takeUnretainedValue()
        }
        var current = type
        while current != 0 {
            if let data = g_type_get_qdata(current, recordQuark) {
                return Unmanaged<TypeRecord>.fromOpaque(data).takeUnretainedValue()
            }
            current = g_type_parent(current)
        }
        return nil
    }

    /// The Swift object behind a GObject instance of a Swift-implemented type, or nil.
    public static func implementation(of instance: UnsafeMutableRawPointer) -> ElementSubclass? {
        guard let record = record(forType: swift_type_from_instance(instance)) else { return nil }
        let slot = (instance + record.implementationOffset).assumingMemoryBound(to: UnsafeMutableRawPointer?.self)
        guard let pointer = slot.pointee else { return nil }
        ThreadSanitizerEdges.acquire(instance)
        return Unmanaged<ElementSubclass>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// Fast path for vfunc trampolines: the instance is known to be of a Swift type of ours.
    @inline(__always)
    static func implementation<T: ElementSubclass>(_ instance: UnsafeMutableRawPointer?, as: T.Type) -> T {
        // swiftlint:disable:next force_unwrapping
        unsafeDowncast(implementation(of: instance!)!, to: T.self)
    }

    /// Called from finalize: drops the Swift object.
    static func releaseImplementation(of instance: UnsafeMutableRawPointer) {
        guard let record = record(forType: swift_type_from_instance(instance)) else { return }
        let slot = (instance + record.implementationOffset).assumingMemoryBound(to: UnsafeMutableRawPointer?.self)
        if let pointer = slot.pointee {
            slot.pointee = nil
            Unmanaged<ElementSubclass>.fromOpaque(pointer).release()
        }
    }

    /// The parent class struct of a Swift-implemented instance, for chaining up.
    static func parentClass<T>(of instance: UnsafeMutableRawPointer, as: T.Type) -> UnsafeMutablePointer<T> {
        let record = record(forType: swift_type_from_instance(instance))!
        return g_type_class_peek(record.parentType)!.assumingMemoryBound(to: T.self)
    }
}

/// Registers an element factory for `swiftClass` with `plugin` (nil for an application-local,
/// static registration).
@discardableResult
public func registerElement(_ swiftClass: ElementSubclass.Type, name: String, rank: GstRank = GST_RANK_NONE,
                            plugin: OpaquePointer?) -> Bool {
    let type = TypeRegistry.register(swiftClass)
    return gst_element_register(plugin, name, guint(rank.rawValue), type) != 0
}
