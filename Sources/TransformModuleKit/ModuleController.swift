/// What a module transform is given with every call: `enqueue` and the element's other
/// services, through the plugin's `ISMHost`. Valid only during that call.
public struct ModuleController {
    /// The C controller, for code that speaks the ABI directly.
    public let pointer: UnsafeMutablePointer<ISMController>

    init(_ pointer: UnsafeMutablePointer<ISMController>) { self.pointer = pointer }

    private var host: ISMHost { pointer.pointee.host.pointee }

    var lastError: String {
        host.last_error(pointer).map { String(cString: $0) } ?? "the plugin gave no reason"
    }

    private func check(_ result: Int32) throws {
        if result != 0 { throw ModuleError(lastError) }
    }

    /// Passes `frame` on: the frame this call received, or one from `newVideoFrame`. Frames go
    /// on when the call returns, in the order enqueued; each frame may be enqueued once.
    public func enqueue(_ frame: ModuleFrame) throws { try check(host.enqueue(pointer, frame.pointer)) }

    /// A new black video frame to fill and enqueue (e.g. output of another size).
    public func newVideoFrame(format: PixelFormat, width: Int, height: Int, timestamp: Int64?,
                              duration: Int64? = nil) throws -> ModuleFrame {
        guard let frame = host.new_video_frame(pointer, format.rawValue, Int32(clamping: width), Int32(clamping: height),
                                               timestamp ?? -1, duration ?? -1) else {
            throw ModuleError(lastError)
        }
        return ModuleFrame(frame, controller: pointer)
    }

    /// Sends `message` to the application (the element's `message` signal and bus).
    public func postMessage(_ message: TransformMessage) throws {
        try ModuleMessage.withCMessage(message) { try check(host.post_message(pointer, $0)) }
    }

    /// Encoded, send side: asks the encoder for a key frame.
    public func generateKeyFrame(rid: String? = nil) throws {
        if let rid {
            try check(rid.withCString { host.generate_key_frame(pointer, $0) })
        } else {
            try check(host.generate_key_frame(pointer, nil))
        }
    }

    /// Encoded, receive side: asks the remote sender for a key frame (RTCP PLI).
    public func sendKeyFrameRequest() throws { try check(host.send_key_frame_request(pointer)) }

    public enum LogLevel: Int32, Sendable { case error = 1, warning = 2, fixme = 3, info = 4, debug = 5, log = 6, trace = 7 }

    /// Logs in the GST_DEBUG category insertablestreams-modules (element and transform named).
    public func log(_ level: LogLevel, _ text: String) { text.withCString { host.log(pointer, level.rawValue, $0) } }
}

/// `TransformMessage` <-> `ISMMessage`.
package enum ModuleMessage {
    package static func withCMessage<R>(_ message: TransformMessage, _ body: (UnsafePointer<ISMMessage>) throws -> R) rethrows -> R {
        // Every string and byte array the C message points to lives until `body` returns.
        var storage: [UnsafeMutableRawPointer] = []
        defer { storage.forEach { $0.deallocate() } }
        func copy(_ string: String) -> UnsafePointer<CChar> {
            let utf8 = Array(string.utf8CString)
            let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count)
            pointer.initialize(from: utf8, count: utf8.count)
            storage.append(UnsafeMutableRawPointer(pointer))
            return UnsafePointer(pointer)
        }
        let fields = message.fields.map { field -> ISMField in
            var c = ISMField()
            c.key = copy(field.key)
            switch field.value {
            case .string(let text): c.type = UInt32(ISM_VALUE_STRING.rawValue); c.string = copy(text)
            case .int(let value): c.type = UInt32(ISM_VALUE_INT.rawValue); c.int_value = Int64(value)
            case .uint(let value): c.type = UInt32(ISM_VALUE_UINT.rawValue); c.uint_value = UInt64(value)
            case .double(let value): c.type = UInt32(ISM_VALUE_DOUBLE.rawValue); c.double_value = value
            case .bool(let value): c.type = UInt32(ISM_VALUE_BOOL.rawValue); c.int_value = value ? 1 : 0
            case .bytes(let bytes):
                c.type = UInt32(ISM_VALUE_BYTES.rawValue)
                let pointer = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, bytes.count))
                pointer.initialize(from: bytes, count: bytes.count)
                storage.append(UnsafeMutableRawPointer(pointer))
                c.bytes = UnsafePointer(pointer)
                c.n_bytes = bytes.count
            }
            return c
        }
        return try fields.withUnsafeBufferPointer { buffer in
            var c = ISMMessage(name: copy(message.name), n_fields: UInt32(buffer.count), fields: buffer.baseAddress)
            return try body(&c)
        }
    }

    /// Nil when a field has a type this ABI version does not know.
    package static func message(from c: UnsafePointer<ISMMessage>) -> TransformMessage? {
        let name = c.pointee.name.map { String(cString: $0) } ?? ""
        var fields: [TransformMessage.Field] = []
        for index in 0..<Int(c.pointee.n_fields) {
            let field = c.pointee.fields[index]
            let key = field.key.map { String(cString: $0) } ?? ""
            let value: TransformMessage.Value
            switch field.type {
            case UInt32(ISM_VALUE_STRING.rawValue): value = .string(field.string.map { String(cString: $0) } ?? "")
            case UInt32(ISM_VALUE_INT.rawValue): value = .int(Int(truncatingIfNeeded: field.int_value))
            case UInt32(ISM_VALUE_UINT.rawValue): value = .uint(UInt(truncatingIfNeeded: field.uint_value))
            case UInt32(ISM_VALUE_DOUBLE.rawValue): value = .double(field.double_value)
            case UInt32(ISM_VALUE_BOOL.rawValue): value = .bool(field.int_value != 0)
            case UInt32(ISM_VALUE_BYTES.rawValue):
                value = .bytes(field.bytes.map { Array(UnsafeBufferPointer(start: $0, count: field.n_bytes)) } ?? [])
            default: return nil
            }
            fields.append(TransformMessage.Field(key: key, value: value))
        }
        return TransformMessage(name: name, fields: fields)
    }
}
