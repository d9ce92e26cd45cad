// Element construction: the send side's description, transforms from gst-launch descriptions,
// and the receive branches built when `receiver` adds a pad.
import CGStreamer
import CGStreamerWebRTC

/// Creates an element (a floating reference) and sets properties from strings.
func makeElement(_ factory: String, name: String, _ properties: [(String, String)] = []) throws -> UnsafeMutablePointer<GstElement> {
    guard let element = gst_element_factory_make(factory, name) else {
        throw LoopbackError("cannot create element \(factory) (plugin not installed?)")
    }
    for (property, value) in properties {
        gst_util_set_object_arg(asGObject(element), property, value)
    }
    return element
}

/// The element (or ghost-padded bin, for several elements) a transform description stands for,
/// named `name`. Returns a floating reference.
///
/// GStreamer's parser logs the descriptions it parses (`GST_PIPELINE:4`, `default:5`), and
/// `options=` carry keys and passphrases: the parser gets a placeholder for each, and the options
/// are set on the parsed elements afterwards (`gst_util_set_object_arg`, which does not log them).
func makeTransform(_ description: String, name: String) throws -> UnsafeMutablePointer<GstElement> {
    var options: [Substring] = []
    let placeholders = description.replacing(#/options=("(?:\\.|[^"\\])*"?|\S*)/#) { match in
        options.append(match.output.1)
        return "options=\(pendingOptionsName)\(options.count - 1)"
    }
    var error: UnsafeMutablePointer<GError>?
    let flags = GstParseFlags(rawValue: GST_PARSE_FLAG_FATAL_ERRORS.rawValue | GST_PARSE_FLAG_NO_SINGLE_ELEMENT_BINS.rawValue)
    let element = gst_parse_bin_from_description_full(placeholders, 1, nil, flags, &error)
    if let error {
        let text = String(cString: error.pointee.message)
        g_error_free(error)
        if let element { gst_object_unref(gst_object_ref_sink(element)) }
        throw LoopbackError("transform \"\(redactingOptions(description))\": \(text)")
    }
    guard let element else { throw LoopbackError("transform \"\(redactingOptions(description))\": nothing parsed") }
    do {
        try setPendingOptions(options, in: element)
    } catch let problem as LoopbackError {
        gst_object_unref(gst_object_ref_sink(element))
        throw LoopbackError("transform \"\(redactingOptions(description))\": \(problem.description)")
    }
    gst_object_set_name(asObject(element), name)
    return element
}

/// The structure name standing for the `options` of a transform description until it is parsed.
private let pendingOptionsName = "pending-options-"

/// Sets the options `makeTransform` kept from the parser on the elements that hold their
/// placeholders (`element`, or the elements of the bin it is).
private func setPendingOptions(_ options: [Substring], in element: UnsafeMutablePointer<GstElement>) throws {
    guard !options.isEmpty else { return }
    var elements = [element]
    if g_type_is_a(swift_type_from_instance(element), gst_bin_get_type()) != 0 {
        let iterator = gst_bin_iterate_recurse(UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstBin.self))
        var item = GValue()
        while gst_iterator_next(iterator, &item) == GST_ITERATOR_OK {
            if let child = g_value_get_object(&item) { elements.append(child.assumingMemoryBound(to: GstElement.self)) }
            g_value_reset(&item)
        }
        g_value_unset(&item)
        gst_iterator_free(iterator)
    }
    var remaining = Set(options.indices)
    for candidate in elements {
        guard let index = pendingOptionsIndex(of: candidate), options.indices.contains(index) else { continue }
        gst_util_set_object_arg(asGObject(candidate), "options", launchValue(options[index]))
        guard pendingOptionsIndex(of: candidate) == nil else {
            throw LoopbackError("options \(index + 1) of the description is not a GstStructure")
        }
        remaining.remove(index)
    }
    guard remaining.isEmpty else { throw LoopbackError("options given to an element that has no options property") }
}

/// The placeholder number in `element`'s `options`, nil when it holds none.
private func pendingOptionsIndex(of element: UnsafeMutablePointer<GstElement>) -> Int? {
    let object = asGObject(element)
    let objectClass = UnsafeMutableRawPointer(object.pointee.g_type_instance.g_class).assumingMemoryBound(to: GObjectClass.self)
    guard let property = g_object_class_find_property(objectClass, "options"),
          property.pointee.value_type == swift_type_structure() else { return nil }
    var value = GValue()
    g_value_init(&value, swift_type_structure())
    defer { g_value_unset(&value) }
    g_object_get_property(object, "options", &value)
    guard let structure = gst_value_get_structure(&value) else { return nil }
    let structureName = String(cString: gst_structure_get_name(structure))
    guard structureName.hasPrefix(pendingOptionsName) else { return nil }
    return Int(structureName.dropFirst(pendingOptionsName.count))
}

/// A property value as gst-launch hands it to the element: without the double quotes around it,
/// and unescaped (a backslash outside quotes escapes the next character; gst_parse_unescape).
func launchValue(_ text: Substring) -> String {
    let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
    var bytes = Array(text.utf8)
    if bytes.count >= 2, bytes.first == quote, bytes.last == quote { bytes = Array(bytes[1..<(bytes.count - 1)]) }
    var unescaped: [UInt8] = []
    var inQuotes = false
    var index = 0
    while index < bytes.count {
        var byte = bytes[index]
        if byte == backslash && !inQuotes {
            index += 1
            guard index < bytes.count else { break }
            byte = bytes[index]
        } else if byte == quote && (!inQuotes || bytes[index - 1] != backslash) {
            inQuotes.toggle()
        }
        unescaped.append(byte)
        index += 1
    }
    return String(decoding: unescaped, as: UTF8.self)
}

/// `description` with the value of every `options=` property replaced by `<hidden>`: options
/// carry keys and passphrases, which error messages must not repeat.
func redactingOptions(_ description: String) -> String {
    description.replacing(#/options=("(?:\\.|[^"\\])*"?|\S*)/#, with: "options=<hidden>")
}

/// Links `source` to `destination` through `transform` (if any), which is added to `bin` first.
func link(_ source: UnsafeMutablePointer<GstElement>, through transform: UnsafeMutablePointer<GstElement>?,
          to destination: UnsafeMutablePointer<GstElement>, in bin: UnsafeMutablePointer<GstBin>) throws {
    let name = { (element: UnsafeMutablePointer<GstElement>) in String(cString: swift_object_name(asObject(element))) }
    if let transform {
        gst_bin_add(bin, transform)
        guard gst_element_link(source, transform) != 0 else {
            throw LoopbackError("cannot link \(name(source)) to the transform \(name(transform)) (caps?)")
        }
        guard gst_element_link(transform, destination) != 0 else {
            throw LoopbackError("cannot link the transform \(name(transform)) to \(name(destination)) (caps?)")
        }
    } else {
        guard gst_element_link(source, destination) != 0 else {
            throw LoopbackError("cannot link \(name(source)) to \(name(destination))")
        }
    }
}

/// The send side as a gst-launch description: the webrtcbins (the first, `sender`, sends), the
/// sources and encoders, and the payloaders feeding `sender`. Encoder and payloader are left unlinked for the transform:
/// `send_<kind>_encoded` (the encoder's output capsfilter) → transform → `send_<kind>_payloader`.
func sendDescription(_ configuration: LoopbackConfiguration, webrtcbins: [String]) -> String {
    let latency = configuration.latencyMilliseconds
    var parts = webrtcbins.map { "webrtcbin name=\($0) bundle-policy=max-bundle latency=\(latency)" }
    let source = "videotestsrc name=send_video_source is-live=true pattern=smpte"
        + " ! video/x-raw,width=320,height=240,framerate=30/1 ! videoconvert ! queue name=send_video_queue"
    switch configuration.videoCodec {
    case .vp8:
        parts.append("\(source) ! vp8enc name=send_video_encoder deadline=1 keyframe-max-dist=60 target-bitrate=1000000"
                     + " token-partitions=\(configuration.vp8TokenPartitions)"
                     + " ! capsfilter name=send_video_encoded caps=video/x-vp8")
        parts.append("\(configuration.vp8Payloader) name=send_video_payloader"
                     + " ! capsfilter name=send_video_rtp caps=\"application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000,rtcp-fb-nack-pli=(boolean)true\""
                     + " ! \(webrtcbins[0]).")
    case .h264:
        parts.append("\(source) ! openh264enc name=send_video_encoder gop-size=60 bitrate=1000000"
                     + " ! capsfilter name=send_video_encoded caps=\"video/x-h264,profile=constrained-baseline\"")
        parts.append("rtph264pay name=send_video_payloader config-interval=-1 aggregate-mode=zero-latency"
                     + " ! capsfilter name=send_video_rtp caps=\"application/x-rtp,media=video,encoding-name=H264,payload=102,clock-rate=90000,rtcp-fb-nack-pli=(boolean)true\""
                     + " ! \(webrtcbins[0]).")
    case nil:
        break
    }
    if configuration.audio {
        parts.append("audiotestsrc name=send_audio_source is-live=true wave=sine freq=440 ! audioconvert ! audioresample"
                     + " ! opusenc name=send_audio_encoder ! capsfilter name=send_audio_encoded caps=audio/x-opus")
        parts.append("rtpopuspay name=send_audio_payloader"
                     + " ! capsfilter name=send_audio_rtp caps=\"application/x-rtp,media=audio,encoding-name=OPUS,payload=97,clock-rate=48000\""
                     + " ! \(webrtcbins[0]).")
    }
    return parts.joined(separator: "   ")
}

/// A receive branch: depayloader ! [transform] ! decoder ! converter(s) ! capsfilter ! fakesink.
enum ReceiveBranch {
    static func build(for encoding: String, in bin: UnsafeMutablePointer<GstBin>, from pad: UnsafeMutablePointer<GstPad>,
                      session: Session) throws {
        let kind: String, depayloader: String, decoder: String
        switch encoding {
        case "VP8": (kind, depayloader, decoder) = ("video", "rtpvp8depay", "vp8dec")
        case "H264":
            let libav = gst_element_factory_find("avdec_h264")
            if let libav { gst_object_unref(UnsafeMutableRawPointer(libav)) }
            (kind, depayloader, decoder) = ("video", "rtph264depay", libav != nil ? "avdec_h264" : "openh264dec")
        case "OPUS": (kind, depayloader, decoder) = ("audio", "rtpopusdepay", "opusdec")
        default:
            // Not ours: swallow it so that webrtcbin does not fail with not-linked.
            let sink = try makeElement("fakesink", name: "recv_unknown_\(encoding.lowercased())_sink",
                                       [("sync", "false"), ("async", "false")])
            gst_bin_add(bin, sink)
            gst_element_sync_state_with_parent(sink)
            let sinkPad = gst_element_get_static_pad(sink, "sink")!
            defer { gst_object_unref(sinkPad) }
            _ = gst_pad_link(pad, sinkPad)
            throw LoopbackError("unexpected stream \(encoding), discarded")
        }
        let counters = kind == "video" ? session.video : session.audio
        let transformDescription = kind == "video" ? session.configuration.receiveVideoTransform
                                                   : session.configuration.receiveAudioTransform

        var chain: [UnsafeMutablePointer<GstElement>] = []
        chain.append(try makeElement(depayloader, name: "recv_\(kind)_depayloader"))
        let transform = try transformDescription.map { try makeTransform($0, name: "recv_\(kind)_transform") }
        let decoderElement = try makeElement(decoder, name: "recv_\(kind)_decoder")
        var tail: [UnsafeMutablePointer<GstElement>] = [decoderElement]
        if kind == "video" {
            tail.append(try makeElement("videoconvert", name: "recv_video_convert"))
            tail.append(try makeElement("capsfilter", name: "recv_video_caps", [("caps", "video/x-raw,format=RGBx")]))
        } else {
            tail.append(try makeElement("audioconvert", name: "recv_audio_convert"))
            tail.append(try makeElement("audioresample", name: "recv_audio_resample"))
            tail.append(try makeElement("capsfilter", name: "recv_audio_caps",
                                        [("caps", "audio/x-raw,format=S16LE,layout=interleaved,channels=1,rate=48000")]))
        }
        let sink = try makeElement("fakesink", name: "recv_\(kind)_sink", [("sync", "false"), ("async", "false")])
        tail.append(sink)

        for element in chain + tail { gst_bin_add(bin, element) }
        try link(chain[0], through: transform, to: decoderElement, in: bin)
        for (upstream, downstream) in zip(tail, tail.dropFirst()) {
            guard gst_element_link(upstream, downstream) != 0 else {
                throw LoopbackError("cannot link the \(kind) receive branch")
            }
        }
        addProbe(chain[0], pad: "src", role: .received, counters: counters)
        addProbe(decoderElement, pad: "src", role: .decoded, counters: counters)
        addProbe(sink, pad: "sink", role: kind == "video" ? .videoCheck : .audioCheck, counters: counters)

        // Downstream first, so that nothing pushes into an element that is not running yet.
        for element in (chain + (transform.map { [$0] } ?? []) + tail).reversed() {
            gst_element_sync_state_with_parent(element)
        }
        let sinkPad = gst_element_get_static_pad(chain[0], "sink")!
        defer { gst_object_unref(sinkPad) }
        let result = gst_pad_link(pad, sinkPad)
        guard result == GST_PAD_LINK_OK else {
            throw LoopbackError("cannot link receiver's pad to \(depayloader) (\(result.rawValue))")
        }
        session.log("receive branch for \(encoding) linked")
    }
}
