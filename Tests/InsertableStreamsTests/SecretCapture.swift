import CGStreamer
import Glibc
import Synchronization
import XCTest

/// The secrets one run of `SecretsTests` sets (random every run, so frame data cannot match
/// them by chance), and every form in which one could show up in a text: hexadecimal in both
/// cases, the raw bytes, the bytes in decimal (Swift's reflection of `[UInt8]`), spaced
/// hexadecimal (GStreamer's MEMDUMP) and, for passphrases, the text itself.
final class SecretNeedles: @unchecked Sendable {
    struct Needle {
        let label: String
        /// NUL-terminated, for strstr.
        let bytes: [CChar]
    }
    private(set) var needles: [Needle] = []
    private(set) var labels: [String] = []
    /// The first 8 bytes of every needle: a line is searched only when one of them occurs in it
    /// (one lookup per byte instead of a search per needle: 10^5 lines of MEMDUMP take seconds
    /// otherwise).
    private var prefixes = Set<UInt64>()

    /// Random bytes without 0 (a C string, as every log line is, cannot hold a 0 byte).
    static func randomKey(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 1...255, using: &generator) }
    }

    /// Letters and digits: a passphrase GStreamer's structure syntax neither quotes nor escapes.
    static func randomPassphrase(_ count: Int = 24) -> String {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<count).map { _ in alphabet.randomElement(using: &generator)! })
    }

    static func hex(_ bytes: [UInt8], uppercase: Bool = false) -> String {
        let digits = Array(uppercase ? "0123456789ABCDEF" : "0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xf)]] })
    }

    /// Key bytes: registers every form of them.
    func add(_ label: String, key bytes: [UInt8]) {
        labels.append(label)
        add(label + " (hex)", Self.hex(bytes))
        add(label + " (HEX)", Self.hex(bytes, uppercase: true))
        add(label + " (decimal)", bytes.map(String.init).joined(separator: ", "))
        if !bytes.contains(0) { append(Needle(label: label + " (raw)", bytes: bytes.map { CChar(bitPattern: $0) } + [0])) }
        // MEMDUMP writes 16 bytes a line as "xx xx ..."; a run of 8 lies whole in one line.
        for start in stride(from: 0, to: bytes.count - 7, by: 8) {
            add(label + " (spaced hex \(start))", bytes[start..<start + 8].map { Self.hex([$0]) }.joined(separator: " "))
        }
    }

    func add(_ label: String, passphrase: String) {
        labels.append(label)
        add(label + " (text)", passphrase)
        add(label + " (hex)", Self.hex(Array(passphrase.utf8)))
        add(label + " (decimal)", passphrase.utf8.map(String.init).joined(separator: ", "))
    }

    private func add(_ label: String, _ text: String) {
        append(Needle(label: label, bytes: Array(text.utf8CString)))
    }

    private func append(_ needle: Needle) {
        precondition(needle.bytes.count > 8, "needles are at least 8 bytes long")
        needles.append(needle)
        prefixes.insert(needle.bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
    }

    /// The labels of the secrets found in `text` (a NUL-terminated C string).
    func find(in text: UnsafePointer<CChar>) -> [String] {
        let length = strlen(text)
        guard length >= 8 else { return [] }
        let start = UnsafeRawPointer(text)
        var candidate = false
        for offset in 0...(length - 8) where prefixes.contains(start.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) {
            candidate = true
            break
        }
        guard candidate else { return [] }
        var found: [String] = []
        for needle in needles where needle.bytes.withUnsafeBufferPointer({ strstr(text, $0.baseAddress!) != nil }) {
            found.append(needle.label)
        }
        return found
    }

    func find(in text: String) -> [String] {
        text.withCString { find(in: $0) }
    }
}

/// Every GStreamer log line of the process at every level, scanned for the secrets as it is
/// written (keeping 10^5 lines of MEMDUMP would cost more than scanning them).
final class LogCapture: @unchecked Sendable {
    struct Hit: CustomStringConvertible {
        let category: String
        let level: String
        let labels: [String]
        let line: String
        var description: String { "[\(category) \(level)] \(labels.joined(separator: ", ")): \(line)" }
    }
    struct Counts {
        var lines = 0
        var bytes = 0
        var byCategory: [String: Int] = [:]
        var hits: [Hit] = []
        /// Lines that name a key field (`key`, `passphrase`, `set-key`...): the capture saw the
        /// places where a key would be.
        var namingKeys = 0
        /// Time spent scanning, microseconds.
        var scanMicroseconds: Int64 = 0
    }

    let needles: SecretNeedles
    private let counts = Mutex(Counts())
    private var previousDefault = GST_LEVEL_NONE
    private var previousActive: gboolean = 0
    /// GStreamer's global minimum level before `start` (what `stop` restores).
    private(set) var previousMinimum = GST_LEVEL_NONE
    private var running = false

    init(needles: SecretNeedles) {
        self.needles = needles
    }

    var snapshot: Counts { counts.withLock { $0 } }

    /// Every category at MEMDUMP (GST_DEBUG=*:9), this function the only log function.
    func start() {
        running = true
        previousActive = gst_debug_is_active()
        previousMinimum = swift_debug_min_level()
        previousDefault = gst_debug_get_default_threshold()
        gst_debug_set_active(1)
        gst_debug_remove_log_function(nil)  // the default one (stderr): 10^5 lines would drown the test's output
        gst_debug_add_log_function({ category, level, file, function, line, object, message, data in
            guard let data, let message, let text = gst_debug_message_get(message) else { return }
            let capture = Unmanaged<LogCapture>.fromOpaque(data).takeUnretainedValue()
            let name = category.flatMap { gst_debug_category_get_name($0) }.map { String(cString: $0) } ?? "?"
            capture.record(text, category: name, level: level)
        }, Unmanaged.passUnretained(self).toOpaque(), nil)
        gst_debug_set_threshold_from_string("*:9", 1)
        gst_debug_set_default_threshold(GST_LEVEL_MEMDUMP)
    }

    /// Back to what the other tests run with (and GStreamer's own log function).
    func stop() {
        guard running else { return }
        running = false
        gst_debug_set_default_threshold(previousDefault)
        gst_debug_set_threshold_from_string(getenv("GST_DEBUG").map { String(cString: $0) } ?? "", 1)
        _ = gst_debug_remove_log_function_by_data(Unmanaged.passUnretained(self).toOpaque())
        gst_debug_add_log_function(gst_debug_log_default, nil, nil)
        // Last: thresholds only ever raise GStreamer's global minimum level, and with it every
        // log statement of the process turns into a call; set_active puts it back (to none when
        // logging was off, as it is for the test suite).
        gst_debug_set_active(previousActive)
    }

    private func record(_ text: UnsafePointer<CChar>, category: String, level: GstDebugLevel) {
        let began = g_get_monotonic_time()
        let found = needles.find(in: text)
        let length = strlen(text)
        let names = strstr(text, "key") != nil || strstr(text, "passphrase") != nil
        let hit = found.isEmpty ? nil : Hit(category: category, level: String(cString: gst_debug_level_get_name(level)), labels: found, line: String(String(cString: text).prefix(400)))
        counts.withLock {
            $0.lines += 1
            $0.bytes += length
            $0.byCategory[category, default: 0] += 1
            if names { $0.namingKeys += 1 }
            if let hit { $0.hits.append(hit) }
            $0.scanMicroseconds += Int64(g_get_monotonic_time() - began)
        }
    }
}

/// Every message on a bus, as text: type, source, structure (gst_structure_to_string, which
/// for ERROR/WARNING/INFO holds the GError and debug string too), and the parsed texts.
func describeBusMessage(_ message: UnsafeMutablePointer<GstMessage>) -> String {
    let type = swift_message_type(message)
    var parts = [String(cString: gst_message_type_get_name(type))]
    if let source = swift_message_src(message) { parts.append(String(cString: swift_object_name(source))) }
    if let structure = swift_message_structure(message), let text = gst_structure_to_string(structure) {
        parts.append(String(cString: text))
        g_free(text)
    }
    if type == GST_MESSAGE_ERROR || type == GST_MESSAGE_WARNING || type == GST_MESSAGE_INFO {
        var error: UnsafeMutablePointer<GError>?
        var debug: UnsafeMutablePointer<gchar>?
        switch type {
        case GST_MESSAGE_ERROR: gst_message_parse_error(message, &error, &debug)
        case GST_MESSAGE_WARNING: gst_message_parse_warning(message, &error, &debug)
        default: gst_message_parse_info(message, &error, &debug)
        }
        if let error { parts.append(String(cString: error.pointee.message)); g_error_free(error) }
        if let debug { parts.append(String(cString: debug)); g_free(debug) }
    }
    return parts.joined(separator: " | ")
}

/// A pipeline whose every bus message is kept as text (`describeBusMessage`).
final class RecordedPipeline {
    let pipeline: UnsafeMutablePointer<GstElement>
    private(set) var messages: [String] = []
    private(set) var errors: [String] = []
    private(set) var sawEndOfStream = false

    init(_ description: String) throws {
        _ = TestEnvironment.ready
        var error: UnsafeMutablePointer<GError>?
        let element = gst_parse_launch(description, &error)
        if let error {
            defer { g_error_free(error) }
            if let element { gst_object_unref(element) }
            throw TestFailure("could not parse pipeline: \(String(cString: error.pointee.message))")
        }
        guard let element else { throw TestFailure("gst_parse_launch returned nothing") }
        pipeline = element
    }

    /// An empty pipeline, for an element on its own.
    init(holding element: UnsafeMutablePointer<GstElement>) {
        _ = TestEnvironment.ready
        pipeline = gst_pipeline_new(nil)
        _ = UnsafeMutableRawPointer(pipeline).withMemoryRebound(to: GstBin.self, capacity: 1) { gst_bin_add($0, element) }
    }

    deinit {
        gst_element_set_state(pipeline, GST_STATE_NULL)
        gst_object_unref(pipeline)
    }

    func element(_ name: String) -> UnsafeMutablePointer<GstElement> {
        let bin = UnsafeMutableRawPointer(pipeline).assumingMemoryBound(to: GstBin.self)
        guard let found = gst_bin_get_by_name(bin, name) else { fatalError("no element named \(name)") }
        gst_object_unref(found)
        return found
    }

    func play() { gst_element_set_state(pipeline, GST_STATE_PLAYING) }

    /// Records messages until one satisfies `stop` (its text given), or `seconds` pass.
    @discardableResult
    func record(for seconds: Double, until stop: (String) -> Bool = { _ in false }) -> String? {
        let bus = gst_element_get_bus(pipeline)!
        defer { gst_object_unref(bus) }
        let deadline = g_get_monotonic_time() + gint64(seconds * 1e6)
        while true {
            let remaining = max(0, deadline - g_get_monotonic_time())
            guard let message = gst_bus_timed_pop(bus, GstClockTime(remaining) * 1000) else { return nil }
            let text = describeBusMessage(message)
            let type = swift_message_type(message)
            gst_message_unref(message)
            messages.append(text)
            if type == GST_MESSAGE_ERROR { errors.append(text) }
            if type == GST_MESSAGE_EOS { sawEndOfStream = true }
            if stop(text) { return text }
        }
    }

    /// Plays until EOS or ERROR.
    func runToEnd(timeout seconds: Double = 20) {
        play()
        record(for: seconds) { $0.hasPrefix("eos") || $0.hasPrefix("error") }
    }
}

/// Sets a GstStructure-valued property (`options`) from a structure the application built.
func setStructureProperty(_ element: UnsafeMutablePointer<GstElement>, _ name: String, _ structure: UnsafeMutablePointer<GstStructure>) {
    var value = GValue()
    g_value_init(&value, swift_type_structure())
    g_value_take_boxed(&value, structure)
    UnsafeMutableRawPointer(element).withMemoryRebound(to: GObject.self, capacity: 1) { g_object_set_property($0, name, &value) }
    g_value_unset(&value)
}

/// Sets a string property as an application does (g_object_set; not gst_util_set_object_arg,
/// which logs the value: see testWhatGStreamerItselfPrints).
func setStringProperty(_ element: UnsafeMutablePointer<GstElement>, _ name: String, _ text: String) {
    var value = GValue()
    g_value_init(&value, swift_type_string())
    g_value_set_string(&value, text)
    UnsafeMutableRawPointer(element).withMemoryRebound(to: GObject.self, capacity: 1) { g_object_set_property($0, name, &value) }
    g_value_unset(&value)
}

/// `post-message` with `structure` (transfer full; nil posts NULL).
func postStructure(_ element: UnsafeMutablePointer<GstElement>, _ structure: UnsafeMutablePointer<GstStructure>?) {
    var arguments = [GValue](repeating: GValue(), count: 2)
    g_value_init(&arguments[0], swift_type_from_instance(element))
    g_value_set_object(&arguments[0], element)
    g_value_init(&arguments[1], swift_type_structure())
    if let structure { g_value_take_boxed(&arguments[1], structure) }
    g_signal_emitv(&arguments, g_signal_lookup("post-message", swift_type_from_instance(element)), 0, nil)
    for index in arguments.indices { g_value_unset(&arguments[index]) }
}
