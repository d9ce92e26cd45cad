import CGStreamer

/// A GObject signal's name and types (see `ElementSignal` for declaring one on an element).
///
/// Action signals (`isAction`) are emitted by applications (`g_signal_emit_by_name`) and run the
/// handler declared with them; the others are emitted by the element (`emitSignal`) for
/// applications to connect to.
public struct SignalSpec: Sendable {
    public var name: String
    public var parameterTypes: [GType]
    public var returnType: GType
    public var isAction: Bool
    /// Handlers may connect to `name::detail` and the element emits with a detail.
    public var isDetailed: Bool
    /// The first handler's return value is the result: later handlers do not run
    /// (`g_signal_accumulator_first_wins`). Otherwise the last handler's value is.
    public var firstHandlerWins: Bool
    /// How GLib calls handlers connected from C.
    public var marshaller: SignalMarshaller

    public init(_ name: String, parameters: [GType] = [], returns: GType = swift_type_none(), isAction: Bool,
                isDetailed: Bool = false, firstHandlerWins: Bool = false, marshaller: SignalMarshaller = .generic) {
        self.name = name
        self.parameterTypes = parameters
        self.returnType = returns
        self.isAction = isAction
        self.isDetailed = isDetailed
        self.firstHandlerWins = firstHandlerWins
        self.marshaller = marshaller
    }

    @discardableResult
    func register(on type: GType) -> guint {
        var closure: UnsafeMutablePointer<GClosure>?
        if isAction {
            // The closure's data is the signal name; GLib keeps the closure for the type's life.
            closure = g_closure_new_simple(swift_sizeof_closure(), g_strdup(name))
            g_closure_set_marshal(closure, { closure, returnValue, count, parameters, _, _ in
                SignalEmission.dispatchAction(signal: closure?.pointee.data, returnValue: returnValue, count: count,
                                              parameters: parameters)
            })
        }
        var flags = G_SIGNAL_RUN_LAST.rawValue
        if isAction { flags |= G_SIGNAL_ACTION.rawValue }
        if isDetailed { flags |= G_SIGNAL_DETAILED.rawValue }
        var types = parameterTypes
        let accumulator: GSignalAccumulator? = firstHandlerWins ? g_signal_accumulator_first_wins : nil
        let marshallers: (GSignalCMarshaller, GSignalCVaMarshaller)? = switch marshaller {
        case .generic: nil
        case .sampleFromSample: (swift_marshaller_sample__sample(), swift_va_marshaller_sample__sample())
        }
        let id = types.withUnsafeMutableBufferPointer { buffer in
            g_signal_newv(name, type, GSignalFlags(rawValue: flags), closure, accumulator, nil, marshallers?.0,
                          returnType, guint(buffer.count), buffer.baseAddress)
        }
        if let marshallers, id != 0 { g_signal_set_va_marshaller(id, type, marshallers.1) }
        return id
    }
}

/// How GLib calls a signal's handlers connected from C (`g_signal_connect`); bindings' closures
/// (PyGObject, gstreamer-rs) marshal by themselves whatever is chosen here.
public enum SignalMarshaller: Sendable {
    /// GLib's libffi marshaller: any signature.
    case generic
    /// `GstSample* handler (instance, GstSample*, user_data)` called directly (the
    /// `transform-frame` signal): about 1,500 instructions per emission fewer than `generic`.
    case sampleFromSample
}

enum SignalEmission {
    /// Class closure of every action signal: finds the Swift object, and the signal from the
    /// closure's data (its name). Not from g_signal_get_invocation_hint: that is the innermost
    /// emission on the instance from any thread, so two threads emitting different action
    /// signals on one element at once ran each other's handler (StressTests found it).
    static func dispatchAction(signal: UnsafeMutableRawPointer?, returnValue: UnsafeMutablePointer<GValue>?, count: guint,
                               parameters: UnsafePointer<GValue>?) {
        guard let signal, let parameters, count >= 1, let instance = g_value_get_object(parameters),
              let implementation = TypeRegistry.implementation(of: instance),
              let record = TypeRegistry.record(forType: swift_type_from_instance(instance)),
              let handler = record.actions[String(cString: signal.assumingMemoryBound(to: CChar.self))] else { return }
        let arguments = (1..<Int(count)).map { GValueConversion.read(parameters + $0) }
        let result = handler(implementation, arguments)
        if let returnValue, returnValue.pointee.g_type != 0 {
            GValueConversion.write(result, into: returnValue)
        }
    }

    static func emit(on implementation: ElementSubclass, name: String, arguments: [PropertyValue]) {
        let instance = UnsafeMutableRawPointer(implementation.elementPointer)
        let type = swift_type_from_instance(instance)
        let signalID = g_signal_lookup(name, type)
        guard signalID != 0 else { return }
        var query = GSignalQuery()
        g_signal_query(signalID, &query)
        let count = Int(query.n_params) + 1
        let values = UnsafeMutablePointer<GValue>.allocate(capacity: count)
        values.initialize(repeating: GValue(), count: count)
        defer {
            for index in 0..<count { g_value_unset(values + index) }
            values.deallocate()
        }
        g_value_init(values, type)
        g_value_set_object(values, instance)
        for index in 0..<Int(query.n_params) {
            let parameterType = query.param_types[index] & ~GType(1) // strip G_SIGNAL_TYPE_STATIC_SCOPE
            g_value_init(values + index + 1, parameterType)
            if index < arguments.count { GValueConversion.write(arguments[index], into: values + index + 1) }
        }
        g_signal_emitv(values, signalID, 0, nil)
    }
}
