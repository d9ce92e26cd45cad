import CGStreamer

/// Base class for Swift sources deriving from GstBaseSrc. Defaults chain up to GstBaseSrc.
open class BaseSrcSubclass: ElementSubclass, @unchecked Sendable {
    open override class var parentType: GType { gst_base_src_get_type() }

    public var baseSrcPointer: UnsafeMutablePointer<GstBaseSrc> {
        UnsafeMutableRawPointer(elementPointer).assumingMemoryBound(to: GstBaseSrc.self)
    }
    public var sourcePad: UnsafeMutablePointer<GstPad> { swift_base_src_pad(baseSrcPointer) }

    private var parent: UnsafeMutablePointer<GstBaseSrcClass> {
        TypeRegistry.parentClass(of: elementPointer, as: GstBaseSrcClass.self)
    }

    open func start() -> Bool { parent.pointee.start.map { $0(baseSrcPointer) != 0 } ?? true }
    open func stop() -> Bool { parent.pointee.stop.map { $0(baseSrcPointer) != 0 } ?? true }
    open func unlock() -> Bool { parent.pointee.unlock.map { $0(baseSrcPointer) != 0 } ?? true }
    open func unlockStop() -> Bool { parent.pointee.unlock_stop.map { $0(baseSrcPointer) != 0 } ?? true }
    open func isSeekable() -> Bool { parent.pointee.is_seekable.map { $0(baseSrcPointer) != 0 } ?? false }
    /// Negotiation at start; sources whose caps come from their data override it to do nothing.
    open func negotiate() -> Bool { parent.pointee.negotiate.map { $0(baseSrcPointer) != 0 } ?? true }
    open func query(_ query: UnsafeMutablePointer<GstQuery>) -> Bool {
        parent.pointee.query.map { $0(baseSrcPointer, query) != 0 } ?? false
    }
    open func event(_ event: UnsafeMutablePointer<GstEvent>) -> Bool {
        parent.pointee.event.map { $0(baseSrcPointer, event) != 0 } ?? true
    }
    /// Produces the next buffer (transfer full into `buffer`).
    open func create(offset: UInt64, size: UInt32,
                     buffer: UnsafeMutablePointer<UnsafeMutablePointer<GstBuffer>?>) -> GstFlowReturn {
        GST_FLOW_NOT_SUPPORTED
    }

    static func installVirtualMethods(_ klass: UnsafeMutableRawPointer) {
        let srcClass = klass.assumingMemoryBound(to: GstBaseSrcClass.self)
        srcClass.pointee.start = { TypeRegistry.implementation($0, as: BaseSrcSubclass.self).start() ? 1 : 0 }
        srcClass.pointee.stop = { TypeRegistry.implementation($0, as: BaseSrcSubclass.self).stop() ? 1 : 0 }
        srcClass.pointee.unlock = { TypeRegistry.implementation($0, as: BaseSrcSubclass.self).unlock() ? 1 : 0 }
        srcClass.pointee.unlock_stop = {
            TypeRegistry.implementation($0, as: BaseSrcSubclass.self).unlockStop() ? 1 : 0
        }
        srcClass.pointee.is_seekable = {
            TypeRegistry.implementation($0, as: BaseSrcSubclass.self).isSeekable() ? 1 : 0
        }
        srcClass.pointee.negotiate = {
            TypeRegistry.implementation($0, as: BaseSrcSubclass.self).negotiate() ? 1 : 0
        }
        srcClass.pointee.query = { src, query in
            guard let query else { return 0 }
            return TypeRegistry.implementation(src, as: BaseSrcSubclass.self).query(query) ? 1 : 0
        }
        srcClass.pointee.event = { src, event in
            guard let event else { return 0 }
            return TypeRegistry.implementation(src, as: BaseSrcSubclass.self).event(event) ? 1 : 0
        }
        srcClass.pointee.create = { src, offset, size, buffer in
            guard let buffer else { return GST_FLOW_ERROR }
            return TypeRegistry.implementation(src, as: BaseSrcSubclass.self)
                .create(offset: UInt64(offset), size: size, buffer: buffer)
        }
    }
}
