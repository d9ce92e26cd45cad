import CGStreamer

/// Base class for Swift sinks deriving from GstBaseSink. Defaults chain up to GstBaseSink.
open class BaseSinkSubclass: ElementSubclass, @unchecked Sendable {
    open override class var parentType: GType { gst_base_sink_get_type() }

    public var baseSinkPointer: UnsafeMutablePointer<GstBaseSink> {
        UnsafeMutableRawPointer(elementPointer).assumingMemoryBound(to: GstBaseSink.self)
    }
    public var sinkPad: UnsafeMutablePointer<GstPad> { swift_base_sink_pad(baseSinkPointer) }

    private var parent: UnsafeMutablePointer<GstBaseSinkClass> {
        TypeRegistry.parentClass(of: elementPointer, as: GstBaseSinkClass.self)
    }

    open func start() -> Bool { parent.pointee.start.map { $0(baseSinkPointer) != 0 } ?? true }
    open func stop() -> Bool { parent.pointee.stop.map { $0(baseSinkPointer) != 0 } ?? true }
    open func unlock() -> Bool { parent.pointee.unlock.map { $0(baseSinkPointer) != 0 } ?? true }
    open func unlockStop() -> Bool { parent.pointee.unlock_stop.map { $0(baseSinkPointer) != 0 } ?? true }
    /// Caps this sink accepts (transfer full), or nil for the template's.
    open func caps(filter: UnsafeMutablePointer<GstCaps>?) -> UnsafeMutablePointer<GstCaps>? {
        parent.pointee.get_caps?(baseSinkPointer, filter)
    }
    open func setCaps(_ caps: UnsafeMutablePointer<GstCaps>) -> Bool {
        parent.pointee.set_caps.map { $0(baseSinkPointer, caps) != 0 } ?? true
    }
    /// Serialized and non-serialized events from upstream. Takes ownership of `event`.
    open func event(_ event: UnsafeMutablePointer<GstEvent>) -> Bool {
        parent.pointee.event.map { $0(baseSinkPointer, event) != 0 } ?? false
    }
    open func query(_ query: UnsafeMutablePointer<GstQuery>) -> Bool {
        parent.pointee.query.map { $0(baseSinkPointer, query) != 0 } ?? false
    }
    /// A buffer to render (borrowed: ref it to keep it).
    open func render(_ buffer: UnsafeMutablePointer<GstBuffer>) -> GstFlowReturn { GST_FLOW_OK }

    /// Sees every event of the sink pad on its streaming thread BEFORE GstBaseSink handles it
    /// (holding only the stream lock, not GstBaseSink's PREROLL lock, which state changes
    /// need). A sink that must wait for its own worker before an event takes effect (drain
    /// before EOS) waits here. Active after `interceptSinkPadEvents()`.
    open func sinkPadEventBeforeBaseSink(_ event: UnsafeMutablePointer<GstEvent>) {}

    /// GstBaseSink's pad event function, kept by `interceptSinkPadEvents` (same for every instance).
    private var baseSinkPadEvent: GstPadEventFunction?

    /// Routes the sink pad's events through `sinkPadEventBeforeBaseSink` first. Call from `init`.
    public func interceptSinkPadEvents() {
        baseSinkPadEvent = sinkPad.pointee.eventfunc
        gst_pad_set_event_function_full(sinkPad, { pad, parent, event in
            guard let event, let parent, let sink = TypeRegistry.implementation(of: parent) as? BaseSinkSubclass,
                  let base = sink.baseSinkPadEvent else {
                if let event { gst_event_unref(event) }
                return 0
            }
            sink.sinkPadEventBeforeBaseSink(event)
            return base(pad, parent, event)
        }, nil, nil)
    }

    static func installVirtualMethods(_ klass: UnsafeMutableRawPointer) {
        let sinkClass = klass.assumingMemoryBound(to: GstBaseSinkClass.self)
        sinkClass.pointee.start = { TypeRegistry.implementation($0, as: BaseSinkSubclass.self).start() ? 1 : 0 }
        sinkClass.pointee.stop = { TypeRegistry.implementation($0, as: BaseSinkSubclass.self).stop() ? 1 : 0 }
        sinkClass.pointee.unlock = { TypeRegistry.implementation($0, as: BaseSinkSubclass.self).unlock() ? 1 : 0 }
        sinkClass.pointee.unlock_stop = {
            TypeRegistry.implementation($0, as: BaseSinkSubclass.self).unlockStop() ? 1 : 0
        }
        sinkClass.pointee.get_caps = { sink, filter in
            TypeRegistry.implementation(sink, as: BaseSinkSubclass.self).caps(filter: filter)
        }
        sinkClass.pointee.set_caps = { sink, caps in
            guard let caps else { return 0 }
            return TypeRegistry.implementation(sink, as: BaseSinkSubclass.self).setCaps(caps) ? 1 : 0
        }
        sinkClass.pointee.event = { sink, event in
            guard let event else { return 0 }
            return TypeRegistry.implementation(sink, as: BaseSinkSubclass.self).event(event) ? 1 : 0
        }
        sinkClass.pointee.query = { sink, query in
            guard let query else { return 0 }
            return TypeRegistry.implementation(sink, as: BaseSinkSubclass.self).query(query) ? 1 : 0
        }
        sinkClass.pointee.render = { sink, buffer in
            guard let buffer else { return GST_FLOW_ERROR }
            return TypeRegistry.implementation(sink, as: BaseSinkSubclass.self).render(buffer)
        }
    }
}
