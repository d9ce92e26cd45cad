import CGStreamer

/// The domain and code of a GStreamer error or warning message.
public enum ErrorKind: Sendable {
    case core(GstCoreError)
    case library(GstLibraryError)
    case resource(GstResourceError)
    case stream(GstStreamError)

    var domainAndCode: (GQuark, gint) {
        switch self {
        case .core(let code): (gst_core_error_quark(), gint(code.rawValue))
        case .library(let code): (gst_library_error_quark(), gint(code.rawValue))
        case .resource(let code): (gst_resource_error_quark(), gint(code.rawValue))
        case .stream(let code): (gst_stream_error_quark(), gint(code.rawValue))
        }
    }
}

extension ElementSubclass {
    /// Posts an ERROR message: `text` for users, `debug` for developers (GST_ELEMENT_ERROR).
    public func postError(_ kind: ErrorKind, _ text: String, debug: String? = nil,
                          file: StaticString = #fileID, function: StaticString = #function, line: UInt = #line) {
        post(GST_MESSAGE_ERROR, kind, text, debug, file, function, line)
    }

    /// Posts a WARNING message (GST_ELEMENT_WARNING).
    public func postWarning(_ kind: ErrorKind, _ text: String, debug: String? = nil,
                            file: StaticString = #fileID, function: StaticString = #function, line: UInt = #line) {
        post(GST_MESSAGE_WARNING, kind, text, debug, file, function, line)
    }

    /// Posts an element message whose structure is parsed from `structure`
    /// (e.g. `"sframe-error, kind=authentication"`).
    public func postElementMessage(_ structure: String) {
        guard let parsed = gst_structure_from_string(structure, nil) else { return }
        let message = gst_message_new_element(objectPointer, parsed)
        gst_element_post_message(elementPointer, message)
    }

    private func post(_ type: GstMessageType, _ kind: ErrorKind, _ text: String, _ debug: String?,
                      _ file: StaticString, _ function: StaticString, _ line: UInt) {
        let (domain, code) = kind.domainAndCode
        file.withUTF8Buffer { fileBuffer in
            function.withUTF8Buffer { functionBuffer in
                fileBuffer.withMemoryRebound(to: CChar.self) { fileChars in
                    functionBuffer.withMemoryRebound(to: CChar.self) { functionChars in
                        // gst_element_message_full takes ownership of text and debug.
                        gst_element_message_full(elementPointer, type, domain, code, g_strdup(text),
                                                 debug.flatMap { g_strdup($0) }, fileChars.baseAddress,
                                                 functionChars.baseAddress, gint(line))
                    }
                }
            }
        }
    }
}

/// `gst_caps_to_string`, freed.
public func describeCaps(_ caps: UnsafePointer<GstCaps>?) -> String {
    guard let caps, let text = gst_caps_to_string(caps) else { return "(null)" }
    defer { g_free(text) }
    return String(cString: text)
}
