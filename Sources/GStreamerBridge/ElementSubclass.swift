import CGStreamer

/// What `gst-inspect-1.0` shows in "Factory Details".
public struct ElementMetadata: Sendable {
    public var longName: String
    public var classification: String
    public var description: String
    public var author: String
    public init(longName: String, classification: String, description: String, author: String) {
        self.longName = longName
        self.classification = classification
        self.description = description
        self.author = author
    }
}

/// A pad template: name, direction, presence and caps (as a caps string).
public struct PadTemplateSpec: Sendable {
    public var name: String
    public var direction: GstPadDirection
    public var presence: GstPadPresence
    public var caps: String
    public init(name: String, direction: GstPadDirection, presence: GstPadPresence = GST_PAD_ALWAYS, caps: String) {
        self.name = name
        self.direction = direction
        self.presence = presence
        self.caps = caps
    }
}

/// Base class of every Swift-implemented GstElement subclass.
///
/// Subclass it (or `BaseSinkSubclass` / `BaseSrcSubclass` / `RTPBasePayloadSubclass`), override the class-level
/// description (`typeName`, `metadata`, `padTemplates`, `properties`, `signals`: declared, with
/// their accessors and handlers) and the virtual methods you need; every default chains up to
/// the GStreamer parent class.
/// GStreamer calls these methods from several threads: subclasses guard their own state.
open class ElementSubclass: @unchecked Sendable {
    /// The GObject instance this object implements. Valid for the whole life of `self`.
    public let elementPointer: UnsafeMutablePointer<GstElement>

    public required init(element: UnsafeMutablePointer<GstElement>) {
        self.elementPointer = element
    }

    // MARK: class-level description

    open class var typeName: String { fatalError("\(self) must override typeName") }
    open class var parentType: GType { gst_element_get_type() }
    open class var metadata: ElementMetadata { fatalError("\(self) must override metadata") }
    open class var padTemplates: [PadTemplateSpec] { [] }
    /// Properties, each declared once with its accessors (`ElementProperty(...).declaration`).
    open class var properties: [PropertyDeclaration] { [] }
    /// Signals, action signals with their handlers (`ElementSignal(...).declaration`).
    open class var signals: [SignalDeclaration] { [] }

    // MARK: GstElement

    open func changeState(_ transition: GstStateChange) -> GstStateChangeReturn {
        let parent = TypeRegistry.parentClass(of: elementPointer, as: GstElementClass.self)
        return parent.pointee.change_state?(elementPointer, transition) ?? GST_STATE_CHANGE_SUCCESS
    }

    /// `gst_element_send_event` on this element. Takes ownership of `event`.
    open func sendEvent(_ event: UnsafeMutablePointer<GstEvent>) -> Bool {
        let parent = TypeRegistry.parentClass(of: elementPointer, as: GstElementClass.self)
        guard let sendEvent = parent.pointee.send_event else {
            gst_event_unref(event)
            return false
        }
        return sendEvent(elementPointer, event) != 0
    }

    // MARK: pads made with addPad(fromTemplate:)

    /// A buffer arrived on a sink pad (transfer full).
    open func chain(pad: UnsafeMutablePointer<GstPad>, buffer: UnsafeMutablePointer<GstBuffer>) -> GstFlowReturn {
        gst_buffer_unref(buffer)
        return GST_FLOW_NOT_SUPPORTED
    }

    /// An event arrived on one of the pads (transfer full). Default: GStreamer's default handling
    /// (forwarded to the pads of the other direction).
    open func event(pad: UnsafeMutablePointer<GstPad>, event: UnsafeMutablePointer<GstEvent>) -> Bool {
        gst_pad_event_default(pad, objectPointer, event) != 0
    }

    /// A query arrived on one of the pads. Default: GStreamer's default handling.
    open func query(pad: UnsafeMutablePointer<GstPad>, query: UnsafeMutablePointer<GstQuery>) -> Bool {
        gst_pad_query_default(pad, objectPointer, query) != 0
    }

    // MARK: conveniences for subclasses

    /// The element's current name (a copy).
    public var name: String {
        guard let cName = gst_object_get_name(objectPointer) else { return "" }
        defer { g_free(cName) }
        return String(cString: cName)
    }

    public var objectPointer: UnsafeMutablePointer<GstObject> {
        UnsafeMutableRawPointer(elementPointer).assumingMemoryBound(to: GstObject.self)
    }

    /// Emits a signal declared in `signals` (the "message"-style ones that applications connect to).
    public func emitSignal(_ name: String, _ arguments: [PropertyValue]) {
        SignalEmission.emit(on: self, name: name, arguments: arguments)
    }
}
