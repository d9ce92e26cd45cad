import CGStreamer
import EncodedStreams

/// The elements around an `rtpscripttransform`, found by following pad links through
/// one-in-one-out elements that do not change the stream (queues, capsfilters, parsers,
/// identity, tee-less chains): they tell its side and where RTP details of its frames live.
enum Neighbours {
    /// What an element is, from its klass ("Codec/Encoder/Video", "Codec/Payloader/Network/RTP").
    enum Role {
        case encoder, decoder, payloader, depayloader, passThrough, other
    }

    static func role(of element: UnsafeMutablePointer<GstElement>) -> Role {
        guard let cKlass = gst_element_get_metadata(element, "klass") else { return .other }
        let parts = Set(String(cString: cKlass).split(separator: "/").map(String.init))
        if parts.contains("Depayloader") { return .depayloader }
        if parts.contains("Payloader") { return .payloader }
        if parts.contains("Encoder") { return .encoder }
        if parts.contains("Decoder") { return .decoder }
        if element.pointee.numsinkpads == 1, element.pointee.numsrcpads == 1,
           parts.contains("Generic") || parts.contains("Parser") || parts.contains("Filter") {
            return .passThrough
        }
        return .other
    }

    /// The first element upstream (`direction` GST_PAD_SINK: through sink pads) or downstream
    /// whose role is not pass-through, at most `limit` hops away. Returned with a reference.
    static func nearest(from pad: UnsafeMutablePointer<GstPad>, limit: Int = 6) -> (element: UnsafeMutablePointer<GstElement>, role: Role)? {
        var current = gst_pad_get_peer(pad)
        for _ in 0..<limit {
            guard let peer = current else { return nil }
            defer { gst_object_unref(peer) }
            guard let parent = gst_pad_get_parent_element(peer) else { return nil }
            let role = role(of: parent)
            if role != .passThrough { return (parent, role) }
            // Continue through the pass-through element's pad of the same direction as `pad`.
            let next = peer.pointee.direction == GST_PAD_SINK ? firstPad(of: parent, direction: GST_PAD_SRC)
                                                               : firstPad(of: parent, direction: GST_PAD_SINK)
            gst_object_unref(parent)
            guard let next else { return nil }
            current = gst_pad_get_peer(next)
            gst_object_unref(next)
        }
        if let current { gst_object_unref(current) }
        return nil
    }

    /// The side told by the neighbours: an encoder upstream or a payloader downstream means send;
    /// a depayloader upstream or a decoder downstream means receive. Upstream is asked first.
    static func side(sinkPad: UnsafeMutablePointer<GstPad>, srcPad: UnsafeMutablePointer<GstPad>) -> (TransformSide, String)? {
        if let (element, role) = nearest(from: sinkPad) {
            defer { gst_object_unref(element) }
            let name = String(cString: swift_object_name(UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstObject.self)))
            if role == .encoder { return (.send, "encoder \(name) upstream") }
            if role == .depayloader { return (.receive, "depayloader \(name) upstream") }
        }
        if let (element, role) = nearest(from: srcPad) {
            defer { gst_object_unref(element) }
            let name = String(cString: swift_object_name(UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstObject.self)))
            if role == .payloader { return (.send, "payloader \(name) downstream") }
            if role == .decoder { return (.receive, "decoder \(name) downstream") }
        }
        return nil
    }

    /// The payloader downstream / depayloader upstream, with a reference, if there is one.
    static func adjacent(_ role: Role, from pad: UnsafeMutablePointer<GstPad>) -> UnsafeMutablePointer<GstElement>? {
        guard let (element, found) = nearest(from: pad) else { return nil }
        if found == role { return element }
        gst_object_unref(element)
        return nil
    }

    static func firstPad(of element: UnsafeMutablePointer<GstElement>, direction: GstPadDirection) -> UnsafeMutablePointer<GstPad>? {
        swift_object_lock(UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstObject.self))
        defer { swift_object_unlock(UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstObject.self)) }
        let list = direction == GST_PAD_SRC ? element.pointee.srcpads : element.pointee.sinkpads
        guard let pad = list?.pointee.data else { return nil }
        return gst_object_ref(pad).assumingMemoryBound(to: GstPad.self)
    }
}
