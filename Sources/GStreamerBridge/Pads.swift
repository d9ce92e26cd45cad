import CGStreamer

/// Elements with pads of their own (not a GstBaseSink/GstBaseSrc): create pads from the class's
/// templates, route their chain/event/query functions to overridable methods, and drive a pad
/// task (the streaming thread GStreamer manages for a src pad) with a Swift closure.
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
        if padTemplate.pointee.direction == GST_PAD_SINK {
            gst_pad_set_chain_function_full(pad, { pad, parent, buffer in
                guard let pad, let parent, let buffer, let element = TypeRegistry.implementation(of: parent) else {
                    if let buffer { gst_buffer_unref(buffer) }
                    return GST_FLOW_ERROR
                }
                return element.chain(pad: pad, buffer: buffer)
            }, nil, nil)
        }
        gst_pad_set_event_function_full(pad, { pad, parent, event in
            guard let pad, let parent, let event, let element = TypeRegistry.implementation(of: parent) else {
                if let event { gst_event_unref(event) }
                return 0
            }
            return element.event(pad: pad, event: event) ? 1 : 0
        }, nil, nil)
        gst_pad_set_query_function_full(pad, { pad, parent, query in
            guard let pad, let parent, let query, let element = TypeRegistry.implementation(of: parent) else { return 0 }
            return element.query(pad: pad, query: query) ? 1 : 0
        }, nil, nil)
        _ = gst_element_add_pad(elementPointer, pad)
        return pad
    }

    /// Starts (or resumes) `pad`'s task: `body` runs in a loop on the pad's streaming thread,
    /// holding the pad's stream lock, until `pausePadTask`/`stopPadTask`. Unlike `WorkerTask`,
    /// a pad task may pause itself from inside `body` (the stream lock serialises it).
    @discardableResult
    public func startPadTask(_ pad: UnsafeMutablePointer<GstPad>, _ body: @escaping @Sendable () -> Void) -> Bool {
        final class Body {
            let run: @Sendable () -> Void
            init(_ run: @escaping @Sendable () -> Void) { self.run = run }
        }
        return gst_pad_start_task(pad, { data in
            Unmanaged<Body>.fromOpaque(data!).takeUnretainedValue().run()
        }, Unmanaged.passRetained(Body(body)).toOpaque(), { data in
            Unmanaged<Body>.fromOpaque(data!).release()
        }) != 0
    }

    @discardableResult
    public func pausePadTask(_ pad: UnsafeMutablePointer<GstPad>) -> Bool { gst_pad_pause_task(pad) != 0 }

    /// Stops and joins the task (takes the stream lock: unblock `body` first).
    @discardableResult
    public func stopPadTask(_ pad: UnsafeMutablePointer<GstPad>) -> Bool { gst_pad_stop_task(pad) != 0 }
}
