import CGStreamer

/// A GStreamer debug category (`GST_DEBUG=<name>:<level>`), one per element.
public final class DebugCategory: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<GstDebugCategory>

    /// Creates (or returns the existing) category. GStreamer keeps the strings.
    public init(_ name: String, description: String, color: UInt32 = 0) {
        pointer = swift_debug_category_new(name, color, description)
    }

    @inline(__always)
    public func isEnabled(_ level: GstDebugLevel) -> Bool {
        level.rawValue <= swift_debug_min_level().rawValue
            && level.rawValue <= gst_debug_category_get_threshold(pointer).rawValue
    }

    public func log(_ level: GstDebugLevel, _ message: @autoclosure () -> String, object: ElementSubclass? = nil,
                    file: StaticString = #fileID, function: StaticString = #function, line: UInt = #line) {
        guard isEnabled(level) else { return }
        let gobject = object.map { UnsafeMutableRawPointer($0.elementPointer).assumingMemoryBound(to: GObject.self) }
        file.withUTF8Buffer { fileBuffer in
            function.withUTF8Buffer { functionBuffer in
                // StaticStrings are NUL-terminated in the binary.
                fileBuffer.withMemoryRebound(to: CChar.self) { fileChars in
                    functionBuffer.withMemoryRebound(to: CChar.self) { functionChars in
                        gst_debug_log_literal(pointer, level, fileChars.baseAddress, functionChars.baseAddress,
                                              gint(line), gobject, message())
                    }
                }
            }
        }
    }

    public func error(_ message: @autoclosure () -> String, object: ElementSubclass? = nil,
                      file: StaticString = #fileID, function: StaticString = #function, line: UInt = #line) {
        log(GST_LEVEL_ERROR, message(), object: object, file: file, function: function, line: line)
    }
    public func warning(_ message: @autoclosure () -> String, object: ElementSubclass? = nil,
                        file: StaticString = #fileID, function: StaticString = #function, line: UInt = #line) {
        log(GST_LEVEL_WARNING, message(), object: object, file: file, function: function, line: line)
    }
    public func info(_ message: @autoclosure () -> String, object: ElementSubclass? = nil,
                     file: StaticString = #fileID, function: StaticString = #function, line: UInt = #line) {
        log(GST_LEVEL_INFO, message(), object: object, file: file, function: function, line: line)
    }
    public func debug(_ message: @autoclosure () -> String, object: ElementSubclass? = nil,
                      file: StaticString = #fileID, function: StaticString = #function, line: UInt = #line) {
        log(GST_LEVEL_DEBUG, message(), object: object, file: file, function: function, line: line)
    }
    public func trace(_ message: @autoclosure () -> String, object: ElementSubclass? = nil,
                      file: StaticString = #fileID, function: StaticString = #function, line: UInt = #line) {
        log(GST_LEVEL_TRACE, message(), object: object, file: file, function: function, line: line)
    }
}
