import CGStreamer

/// class_init of every Swift-implemented type: installs the trampolines that forward GObject,
/// GstElement and base-class virtual methods to the Swift object, then the class description
/// (metadata, pad templates, properties, signals).
enum ClassInitialization {
    static func initialize(klass: UnsafeMutableRawPointer, record: TypeRecord) {
        let swiftClass = record.swiftClass
        let objectClass = klass.assumingMemoryBound(to: GObjectClass.self)
        // set/get_property must be in place before properties are installed.
        objectClass.pointee.set_property = { object, id, value, _ in
            guard let object, let value, let implementation = TypeRegistry.implementation(of: object),
                  let record = TypeRegistry.record(forType: swift_type_from_instance(object)),
                  id >= 1, Int(id) <= record.properties.count else { return }
            record.properties[Int(id) - 1].write(implementation, GValueConversion.read(value))
        }
        objectClass.pointee.get_property = { object, id, value, _ in
            guard let object, let value, let implementation = TypeRegistry.implementation(of: object),
                  let record = TypeRegistry.record(forType: swift_type_from_instance(object)),
                  id >= 1, Int(id) <= record.properties.count else { return }
            GValueConversion.write(record.properties[Int(id) - 1].read(implementation), into: value)
        }
        objectClass.pointee.finalize = { object in
            guard let object else { return }
            TypeRegistry.releaseImplementation(of: object)
            let parent = TypeRegistry.parentClass(of: object, as: GObjectClass.self)
            parent.pointee.finalize?(object)
        }

        let elementClass = klass.assumingMemoryBound(to: GstElementClass.self)
        elementClass.pointee.change_state = { element, transition in
            TypeRegistry.implementation(element, as: ElementSubclass.self).changeState(transition)
        }
        elementClass.pointee.send_event = { element, event in
            guard let event else { return 0 }
            return TypeRegistry.implementation(element, as: ElementSubclass.self).sendEvent(event) ? 1 : 0
        }

        let metadata = swiftClass.metadata
        gst_element_class_set_metadata(elementClass, metadata.longName, metadata.classification,
                                       metadata.description, metadata.author)
        for template in swiftClass.padTemplates {
            let caps = gst_caps_from_string(template.caps)
            precondition(caps != nil, "invalid template caps for \(swiftClass.typeName): \(template.caps)")
            gst_element_class_add_pad_template(
                elementClass, gst_pad_template_new(template.name, template.direction, template.presence, caps))
            gst_caps_unref(caps)
        }

        record.properties = swiftClass.properties
        for (index, property) in record.properties.enumerated() {
            g_object_class_install_property(objectClass, guint(index + 1), property.spec.makeParamSpec())
        }
        let type = swift_type_from_class(klass)
        for signal in swiftClass.signals {
            signal.spec.register(on: type)
            if let handler = signal.handler { record.actions[signal.spec.name] = handler }
        }

        if swiftClass is BaseSinkSubclass.Type { BaseSinkSubclass.installVirtualMethods(klass) }
        if swiftClass is BaseSrcSubclass.Type { BaseSrcSubclass.installVirtualMethods(klass) }
        if swiftClass is RTPBasePayloadSubclass.Type { RTPBasePayloadSubclass.installVirtualMethods(klass) }
    }
}
