import CGStreamer
import Glibc
import InsertableStreams
import Synchronization
import XCTest

/// One-time set-up of GStreamer for the test process: a private registry file (so a crashed or
/// blacklisted plugin elsewhere cannot interfere) and the elements registered in-process.
enum TestEnvironment {
    static let ready: Void = {
        let registry = "/tmp/insertable-streams-tests-\(getpid()).registry"
        setenv("GST_REGISTRY", registry, 1)
        setenv("GST_REGISTRY_UPDATE", "yes", 1)
        // The built plugin must not shadow the in-process registration.
        unsetenv("GST_PLUGIN_PATH")
        // Modules are loaded by the tests that want them, not from the developer's environment.
        unsetenv("GST_INSERTABLE_STREAMS_MODULE_PATH")
        gst_init(nil, nil)
        InsertableStreams.registerElements()
        TestTransforms.register()
        EncodedTestTransforms.register()
    }()
}

/// Checks `condition` every 10 ms until it holds or `seconds` pass (for figures that only a
/// property shows; bus messages use TestPipeline.waitFor).
func waitUntil(_ seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = g_get_monotonic_time() + gint64(seconds * 1_000_000)
    while g_get_monotonic_time() < deadline {
        if condition() { return true }
        g_usleep(10_000)
    }
    return condition()
}

/// A bus message the tests look at.
struct BusMessage: CustomStringConvertible {
    enum Kind { case error, warning, element, endOfStream }
    let kind: Kind
    let source: String
    let text: String
    let debug: String
    let structure: String
    var description: String { "\(kind) from \(source): \(text) [\(debug)] \(structure)" }
}

/// A copy of one buffer seen at a pad.
struct CapturedBuffer {
    let pts: UInt64?
    let duration: UInt64?
    let bytes: [UInt8]
    let caps: String
    /// GST_BUFFER_FLAG_DELTA_UNIT.
    let isDelta: Bool
}

/// Copies every buffer passing a pad (a pad probe; no appsink needed).
final class BufferCollector: @unchecked Sendable {
    private let storage = Mutex<[CapturedBuffer]>([])
    var buffers: [CapturedBuffer] { storage.withLock { $0 } }
    var count: Int { storage.withLock { $0.count } }

    fileprivate func add(_ buffer: UnsafeMutablePointer<GstBuffer>, pad: UnsafeMutablePointer<GstPad>) {
        var map = GstMapInfo()
        var bytes: [UInt8] = []
        if gst_buffer_map(buffer, &map, GST_MAP_READ) != 0 {
            bytes = Array(UnsafeBufferPointer(start: map.data, count: Int(map.size)))
            gst_buffer_unmap(buffer, &map)
        }
        let none = swift_clock_time_none()
        let pts = swift_buffer_pts(buffer), duration = swift_buffer_duration(buffer)
        var capsText = ""
        if let caps = gst_pad_get_current_caps(pad) {
            capsText = describeCapsForTest(caps)
            gst_caps_unref(caps)
        }
        let captured = CapturedBuffer(pts: pts == none ? nil : UInt64(pts), duration: duration == none ? nil : UInt64(duration),
                                      bytes: bytes, caps: capsText,
                                      isDelta: swift_buffer_flags(buffer).rawValue & GST_BUFFER_FLAG_DELTA_UNIT.rawValue != 0)
        storage.withLock { $0.append(captured) }
    }
}

func describeCapsForTest(_ caps: UnsafeMutablePointer<GstCaps>) -> String {
    guard let text = gst_caps_to_string(caps) else { return "" }
    defer { g_free(text) }
    return String(cString: text)
}

/// A pipeline from a gst-launch description, with helpers to run it and read what happened.
final class TestPipeline {
    let pipeline: UnsafeMutablePointer<GstElement>
    private var collectors: [BufferCollector] = []
    private(set) var messages: [BusMessage] = []

    init(_ description: String, file: StaticString = #filePath, line: UInt = #line) throws {
        _ = TestEnvironment.ready
        var error: UnsafeMutablePointer<GError>?
        let element = gst_parse_launch(description, &error)
        if let error {
            let text = String(cString: error.pointee.message)
            g_error_free(error)
            if let element { gst_object_unref(element) }
            throw TestFailure("could not parse pipeline: \(text)")
        }
        guard let element else { throw TestFailure("gst_parse_launch returned nothing") }
        pipeline = element
    }

    deinit {
        setState(GST_STATE_NULL)
        gst_object_unref(pipeline)
    }

    func element(_ name: String) -> UnsafeMutablePointer<GstElement> {
        let bin = UnsafeMutableRawPointer(pipeline).assumingMemoryBound(to: GstBin.self)
        guard let found = gst_bin_get_by_name(bin, name) else { fatalError("no element named \(name)") }
        gst_object_unref(found)  // the pipeline keeps it alive
        return found
    }

    /// Collects the buffers that reach `pad` of element `name`.
    func collect(_ name: String, pad: String = "sink") -> BufferCollector {
        let collector = BufferCollector()
        collectors.append(collector)
        let padPointer = gst_element_get_static_pad(element(name), pad)!
        defer { gst_object_unref(padPointer) }
        let types = GstPadProbeType(rawValue: GST_PAD_PROBE_TYPE_BUFFER.rawValue | GST_PAD_PROBE_TYPE_BUFFER_LIST.rawValue)
        _ = gst_pad_add_probe(padPointer, types, { pad, info, data in
            let collector = Unmanaged<BufferCollector>.fromOpaque(data!).takeUnretainedValue()
            guard let info, let item = info.pointee.data, let pad else { return GST_PAD_PROBE_OK }
            if info.pointee.type.rawValue & GST_PAD_PROBE_TYPE_BUFFER_LIST.rawValue != 0 {
                let list = OpaquePointer(item)
                for index in 0..<gst_buffer_list_length(list) {
                    if let buffer = gst_buffer_list_get(list, index) { collector.add(buffer, pad: pad) }
                }
            } else {
                collector.add(item.assumingMemoryBound(to: GstBuffer.self), pad: pad)
            }
            return GST_PAD_PROBE_OK
        }, Unmanaged.passRetained(collector).toOpaque(), { data in
            Unmanaged<BufferCollector>.fromOpaque(data!).release()
        })
        return collector
    }

    /// Starts playing without waiting: a sink fed by a live generator completes its state
    /// change only when frames arrive.
    /// (A failure shows up as an ERROR message on the bus, which the tests look for.)
    @discardableResult
    func play() -> GstStateChangeReturn { gst_element_set_state(pipeline, GST_STATE_PLAYING) }

    @discardableResult
    func setState(_ state: GstState, timeout seconds: Double = 10) -> GstStateChangeReturn {
        let result = gst_element_set_state(pipeline, state)
        guard result != GST_STATE_CHANGE_FAILURE else { return result }
        var current = GST_STATE_VOID_PENDING, pending = GST_STATE_VOID_PENDING
        return gst_element_get_state(pipeline, &current, &pending, GstClockTime(seconds * 1e9))
    }

    /// Plays until EOS or ERROR (or the time-out) and returns whether EOS was reached.
    @discardableResult
    func runToEnd(timeout seconds: Double = 20) -> Bool {
        play()
        let ended = waitFor(timeout: seconds) { $0.kind == .endOfStream || $0.kind == .error }
        return ended?.kind == .endOfStream
    }

    /// Pops bus messages (recording them) until one satisfies `stop`, or time runs out.
    @discardableResult
    func waitFor(timeout seconds: Double, until stop: (BusMessage) -> Bool) -> BusMessage? {
        let bus = gst_element_get_bus(pipeline)!
        defer { gst_object_unref(bus) }
        let deadline = g_get_monotonic_time() + gint64(seconds * 1e6)
        while g_get_monotonic_time() < deadline {
            let remaining = GstClockTime(max(0, deadline - g_get_monotonic_time())) * 1000
            let mask = GstMessageType(rawValue: GST_MESSAGE_EOS.rawValue | GST_MESSAGE_ERROR.rawValue
                                      | GST_MESSAGE_WARNING.rawValue | GST_MESSAGE_ELEMENT.rawValue)
            guard let message = gst_bus_timed_pop_filtered(bus, remaining, mask) else { break }
            let parsed = parse(message)
            gst_message_unref(message)
            messages.append(parsed)
            if stop(parsed) { return parsed }
        }
        return nil
    }

    /// Drains what is on the bus right now.
    func drainBus() { waitFor(timeout: 0.05) { _ in false } }

    var errors: [BusMessage] { messages.filter { $0.kind == .error } }
    var warnings: [BusMessage] { messages.filter { $0.kind == .warning } }

    private func parse(_ message: UnsafeMutablePointer<GstMessage>) -> BusMessage {
        let source = swift_message_src(message).map { String(cString: swift_object_name($0)) } ?? ""
        var structureText = ""
        if let structure = swift_message_structure(message), let text = gst_structure_to_string(structure) {
            structureText = String(cString: text)
            g_free(text)
        }
        switch swift_message_type(message) {
        case GST_MESSAGE_ERROR, GST_MESSAGE_WARNING:
            var error: UnsafeMutablePointer<GError>?
            var debug: UnsafeMutablePointer<gchar>?
            let isError = swift_message_type(message) == GST_MESSAGE_ERROR
            if isError { gst_message_parse_error(message, &error, &debug) } else { gst_message_parse_warning(message, &error, &debug) }
            defer { if let error { g_error_free(error) }; g_free(debug) }
            return BusMessage(kind: isError ? .error : .warning, source: source,
                              text: error.map { String(cString: $0.pointee.message) } ?? "",
                              debug: debug.map { String(cString: $0) } ?? "", structure: structureText)
        case GST_MESSAGE_EOS:
            return BusMessage(kind: .endOfStream, source: source, text: "", debug: "", structure: "")
        default:
            return BusMessage(kind: .element, source: source, text: "", debug: "", structure: structureText)
        }
    }

    func uint64(_ elementName: String, _ property: String) -> UInt64 {
        var value = GValue()
        g_value_init(&value, swift_type_uint64())
        defer { g_value_unset(&value) }
        let object = UnsafeMutableRawPointer(element(elementName)).assumingMemoryBound(to: GObject.self)
        g_object_get_property(object, property, &value)
        return UInt64(g_value_get_uint64(&value))
    }

    /// A GstStructure-valued property, serialized.
    func structure(_ elementName: String, _ property: String) -> String {
        var value = GValue()
        g_value_init(&value, swift_type_structure())
        defer { g_value_unset(&value) }
        let object = UnsafeMutableRawPointer(element(elementName)).assumingMemoryBound(to: GObject.self)
        g_object_get_property(object, property, &value)
        guard let structure = gst_value_get_structure(&value), let text = gst_structure_to_string(structure) else { return "" }
        defer { g_free(text) }
        return String(cString: text)
    }

    func set(_ elementName: String, _ property: String, _ value: String) {
        let object = UnsafeMutableRawPointer(element(elementName)).assumingMemoryBound(to: GObject.self)
        gst_util_set_object_arg(object, property, value)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Plane layout of raw video caps, to index captured bytes.
struct VideoLayout {
    let width: Int, height: Int
    let offsets: [Int], strides: [Int]
    let format: String

    init(caps: String) {
        var info = GstVideoInfo()
        let parsed = gst_caps_from_string(caps)!
        defer { gst_caps_unref(parsed) }
        precondition(gst_video_info_from_caps(&info, parsed) != 0, "not raw video caps: \(caps)")
        width = Int(info.width)
        height = Int(info.height)
        let planes = Int(swift_video_info_n_planes(&info))
        offsets = (0..<planes).map { Int(swift_video_info_plane_offset(&info, guint($0))) }
        strides = (0..<planes).map { Int(swift_video_info_plane_stride(&info, guint($0))) }
        format = String(cString: gst_video_format_to_string(swift_video_info_format(&info)))
    }
}
