import CGStreamer

/// Base class for Swift RTP payloaders deriving from GstRTPBasePayload. The base class owns the
/// `sink` and `src` pads (made from the class's templates of those names), the RTP header
/// (`pt`, `ssrc`, `seqnum-offset`, `timestamp-offset`), `mtu`, `stats`, header extensions and
/// segment/flush/EOS handling; a subclass configures the output caps in `setCaps` and turns
/// each input buffer into RTP packets in `handleBuffer`. Defaults chain up to GstRTPBasePayload.
open class RTPBasePayloadSubclass: ElementSubclass, @unchecked Sendable {
    open override class var parentType: GType { gst_rtp_base_payload_get_type() }

    public var payloadPointer: UnsafeMutablePointer<GstRTPBasePayload> {
        UnsafeMutableRawPointer(elementPointer).assumingMemoryBound(to: GstRTPBasePayload.self)
    }
    public var sinkPad: UnsafeMutablePointer<GstPad> { swift_rtp_base_payload_sinkpad(payloadPointer) }
    public var sourcePad: UnsafeMutablePointer<GstPad> { swift_rtp_base_payload_srcpad(payloadPointer) }
    /// The `mtu` property: the largest RTP packet, header included.
    public var mtu: UInt32 { swift_rtp_base_payload_mtu(payloadPointer) }

    private var parent: UnsafeMutablePointer<GstRTPBasePayloadClass> {
        TypeRegistry.parentClass(of: elementPointer, as: GstRTPBasePayloadClass.self)
    }

    /// Caps the pad `pad` can handle (transfer full).
    open func caps(pad: UnsafeMutablePointer<GstPad>, filter: UnsafeMutablePointer<GstCaps>?) -> UnsafeMutablePointer<GstCaps>? {
        parent.pointee.get_caps?(payloadPointer, pad, filter)
    }
    /// The sink caps were set: configure the payloader (`setOptions`) and the output caps
    /// (`setOutputCaps`). Return false to refuse the caps.
    open func setCaps(_ caps: UnsafeMutablePointer<GstCaps>) -> Bool {
        parent.pointee.set_caps.map { $0(payloadPointer, caps) != 0 } ?? false
    }
    /// One input buffer (transfer full): push zero or more RTP packets with `push`/`pushList`.
    open func handleBuffer(_ buffer: UnsafeMutablePointer<GstBuffer>) -> GstFlowReturn {
        gst_buffer_unref(buffer)
        return GST_FLOW_NOT_SUPPORTED
    }
    /// An event on the sink pad (transfer full). Chain up: the base class handles caps,
    /// segments, flushing and EOS.
    open func sinkEvent(_ event: UnsafeMutablePointer<GstEvent>) -> Bool {
        guard let sinkEvent = parent.pointee.sink_event else {
            gst_event_unref(event)
            return false
        }
        return sinkEvent(payloadPointer, event) != 0
    }
    /// An event on the src pad (transfer full).
    open func sourceEvent(_ event: UnsafeMutablePointer<GstEvent>) -> Bool {
        guard let sourceEvent = parent.pointee.src_event else {
            gst_event_unref(event)
            return false
        }
        return sourceEvent(payloadPointer, event) != 0
    }
    /// A query on either pad.
    open func query(pad: UnsafeMutablePointer<GstPad>, _ query: UnsafeMutablePointer<GstQuery>) -> Bool {
        parent.pointee.query.map { $0(payloadPointer, pad, query) != 0 } ?? false
    }

    // MARK: conveniences for subclasses

    /// `gst_rtp_base_payload_set_options`: media, dynamic payload type, encoding name, clock rate.
    public func setOptions(media: String, dynamic: Bool, encodingName: String, clockRate: UInt32) {
        gst_rtp_base_payload_set_options(payloadPointer, media, dynamic ? 1 : 0, encodingName, clockRate)
    }
    /// `gst_rtp_base_payload_set_outcaps` with no extra fields: negotiates the src caps from
    /// the options and the base class's properties.
    public func setOutputCaps() -> Bool { swift_rtp_base_payload_set_outcaps(payloadPointer) != 0 }
    /// An RTP packet with room for `payloadLength` payload bytes, header fields left to the base
    /// class (transfer full).
    public func allocatePacket(payloadLength: UInt32) -> UnsafeMutablePointer<GstBuffer>? {
        gst_rtp_base_payload_allocate_output_buffer(payloadPointer, payloadLength, 0, 0)
    }
    /// CSRCs the base class will write into packets made from `buffer` (`source-info`).
    public func sourceCount(of buffer: UnsafeMutablePointer<GstBuffer>) -> UInt32 {
        gst_rtp_base_payload_get_source_count(payloadPointer, buffer)
    }
    /// Pushes one packet (transfer full); the base class stamps seqnum, timestamp, SSRC, PT.
    public func push(_ packet: UnsafeMutablePointer<GstBuffer>) -> GstFlowReturn {
        gst_rtp_base_payload_push(payloadPointer, packet)
    }
    /// Pushes a list of packets (transfer full), e.g. all packets of one frame.
    public func pushList(_ list: OpaquePointer) -> GstFlowReturn {
        gst_rtp_base_payload_push_list(payloadPointer, list)
    }

    static func installVirtualMethods(_ klass: UnsafeMutableRawPointer) {
        let payloadClass = klass.assumingMemoryBound(to: GstRTPBasePayloadClass.self)
        payloadClass.pointee.get_caps = { payload, pad, filter in
            guard let pad else { return nil }
            return TypeRegistry.implementation(payload, as: RTPBasePayloadSubclass.self).caps(pad: pad, filter: filter)
        }
        payloadClass.pointee.set_caps = { payload, caps in
            guard let caps else { return 0 }
            return TypeRegistry.implementation(payload, as: RTPBasePayloadSubclass.self).setCaps(caps) ? 1 : 0
        }
        payloadClass.pointee.handle_buffer = { payload, buffer in
            guard let buffer else { return GST_FLOW_ERROR }
            return TypeRegistry.implementation(payload, as: RTPBasePayloadSubclass.self).handleBuffer(buffer)
        }
        payloadClass.pointee.sink_event = { payload, event in
            guard let event else { return 0 }
            return TypeRegistry.implementation(payload, as: RTPBasePayloadSubclass.self).sinkEvent(event) ? 1 : 0
        }
        payloadClass.pointee.src_event = { payload, event in
            guard let event else { return 0 }
            return TypeRegistry.implementation(payload, as: RTPBasePayloadSubclass.self).sourceEvent(event) ? 1 : 0
        }
        payloadClass.pointee.query = { payload, pad, query in
            guard let pad, let query else { return 0 }
            return TypeRegistry.implementation(payload, as: RTPBasePayloadSubclass.self).query(pad: pad, query) ? 1 : 0
        }
    }
}
