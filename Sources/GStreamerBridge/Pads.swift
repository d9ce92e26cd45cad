import CGStreamer

/// Elements with pads of their own (not a GstBaseSink/GstBaseSrc): create pads from the class's
/// templates and route their chain/event/query functions to overridable methods. Their worker
/// thread is a `StreamWorker(pad:)`.
extension ElementSubclass {
    /// Creates the pad of template `template` (named like the template), wires its functions to
    /// `chain(pad:buffer:)`, `event(pad:event:)` and `query(pad:query:)`, and adds it.
    @discardableResult
    public func addPad(fromTemplate template: String) -> UnsafeMutablePointer<GstPad> {
        let elementClass = UnsafeMutableRawPointer(elementPointer.pointee.object.object.g_type_instance.g_class!)
            .assumingMemoryBound(to: GstElementClass.self)
        guard let padTemplate = gst_element_class_get_pad_template(elementClass, template),
              let pad = gst_pad_new_from_template(padTemplate, template) else {
            preconditionFailure("\(Self.typeName) has no pad template named \(template)")
        }
        // Each function's user data (the pad's chaindata/eventdata/querydata) is this element,
        // unretained: the element owns the pad and outlives every call on it. Reading it costs a
        // load, where finding the element through its GType costs GLib's type lock and a qdata
        // lookup on every buffer.
        let element = Unmanaged.passUnretained(self as ElementSubclass).toOpaque()
        if padTemplate.pointee.direction == GST_PAD_SINK {
            gst_pad_set_chain_function_full(pad, { pad, _, buffer in
                guard let pad, let buffer, let element = padElement(pad.pointee.chaindata) else {
                    if let buffer { gst_buffer_unref(buffer) }
                    return GST_FLOW_ERROR
                }
                return element._withUnsafeGuaranteedRef { $0.chain(pad: pad, buffer: buffer) }
            }, element, nil)
        }
        gst_pad_set_event_function_full(pad, { pad, _, event in
            guard let pad, let event, let element = padElement(pad.pointee.eventdata) else {
                if let event { gst_event_unref(event) }
                return 0
            }
            return element._withUnsafeGuaranteedRef { $0.event(pad: pad, event: event) } ? 1 : 0
        }, element, nil)
        gst_pad_set_query_function_full(pad, { pad, _, query in
            guard let pad, let query, let element = padElement(pad.pointee.querydata) else { return 0 }
            return element._withUnsafeGuaranteedRef { $0.query(pad: pad, query: query) } ? 1 : 0
        }, element, nil)
        _ = gst_element_add_pad(elementPointer, pad)
        return pad
    }
}

/// The element a pad function's user data names (with the edge from its creation, as
/// `TypeRegistry.implementation(of:)` declares it to ThreadSanitizer), to be used without a
/// reference count of its own: a pad function runs with its pad active, and the element
/// deactivates its pads (waiting for their stream locks) before it can be finalized.
@inline(__always)
private func padElement(_ data: gpointer?) -> Unmanaged<ElementSubclass>? {
    guard let data else { return nil }
    ThreadSanitizerEdges.acquire(data)
    return Unmanaged<ElementSubclass>.fromOpaque(data)
}
