import CGStreamer
import Glibc
import Synchronization
@testable import WebRTCLoopback
import XCTest

/// The example programs build their transforms from gst-launch descriptions holding keys
/// (`sframeTransform`, `frameCryptorTransform`). GStreamer's parser logs every description it
/// parses (GST_PIPELINE:4, default:5): `makeTransform` must hand it none of the options, and still
/// give each element exactly the options gst_parse_launch would.
final class LoopbackSecretsTests: XCTestCase {
    /// Counts the log lines of GStreamer's parser categories that hold `needle`.
    final class ParserLog: @unchecked Sendable {
        let needle: [CChar]
        private let state = Mutex((lines: 0, hits: 0))
        init(_ needle: String) { self.needle = Array(needle.utf8CString) }
        var counts: (lines: Int, hits: Int) { state.withLock { $0 } }

        func record(_ text: UnsafePointer<CChar>) {
            let hit = needle.withUnsafeBufferPointer { strstr(text, $0.baseAddress!) != nil }
            state.withLock { $0.lines += 1; if hit { $0.hits += 1 } }
        }

        /// Runs `body` with GST_PIPELINE and default at LOG, this object listening.
        func during(_ body: () throws -> Void) rethrows {
            let wasActive = gst_debug_is_active()
            gst_debug_set_active(1)
            gst_debug_add_log_function({ _, _, _, _, _, _, message, data in
                guard let data, let message, let text = gst_debug_message_get(message) else { return }
                Unmanaged<ParserLog>.fromOpaque(data).takeUnretainedValue().record(text)
            }, Unmanaged.passUnretained(self).toOpaque(), nil)
            // The default log function (stderr) would print every captured line into the test output.
            let removedDefault = gst_debug_remove_log_function(nil) > 0
            gst_debug_set_threshold_for_name("GST_PIPELINE", GST_LEVEL_LOG)
            gst_debug_set_threshold_for_name("default", GST_LEVEL_LOG)
            defer {
                gst_debug_unset_threshold_for_name("GST_PIPELINE")
                gst_debug_unset_threshold_for_name("default")
                _ = gst_debug_remove_log_function_by_data(Unmanaged.passUnretained(self).toOpaque())
                if removedDefault { gst_debug_add_log_function(gst_debug_log_default, nil, nil) }
                gst_debug_set_active(wasActive)
            }
            try body()
        }
    }

    override func setUp() {
        _ = ExampleEnvironment.ready
    }

    private func options(of element: UnsafeMutablePointer<GstElement>) -> String {
        var value = GValue()
        g_value_init(&value, swift_type_structure())
        defer { g_value_unset(&value) }
        g_object_get_property(UnsafeMutableRawPointer(element).assumingMemoryBound(to: GObject.self), "options", &value)
        guard let structure = gst_value_get_structure(&value), let text = gst_structure_to_string(structure) else { return "" }
        defer { g_free(text) }
        return String(cString: text)
    }

    func testTransformsGetTheirOptionsWithoutTheParserSeeingThem() throws {
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef")
        let key = String((0..<32).map { _ in digits[Int.random(in: 0..<16, using: &generator)] })
        let passphrase = "pass-\(UInt64.random(in: 0...UInt64.max, using: &generator))"
        let tricky = #"a "quoted" \back\slash\, comma, semi;colon = equals 'single' ünïcödé"#
        let descriptions: [(secret: String, description: String)] = [
            (key, LoopbackConfiguration.sframeTransform(key: key, keyID: 7, clear: "web")),
            (passphrase, LoopbackConfiguration.frameCryptorTransform(passphrase: passphrase, keyIndex: 2)),
            ("equals 'single'", LoopbackConfiguration.frameCryptorTransform(passphrase: tricky, keyIndex: 3, profile: "livekit",
                                                                              parameters: [("ratchet-window-size", "4")])),
            (key, "queue ! " + LoopbackConfiguration.sframeTransform(key: key) + " ! identity ! rtpscripttransform worker=negate"),
        ]
        for (secret, description) in descriptions {
            // What gst_parse_launch gives the element, and that its parser logs the secret.
            let reference = ParserLog(secret)
            var expected: [String] = []
            try reference.during {
                var error: UnsafeMutablePointer<GError>?
                let parsed = try XCTUnwrap(gst_parse_bin_from_description(description, 1, &error), description)
                defer { gst_object_unref(parsed) }
                XCTAssertNil(error)
                expected = rtpscripttransforms(in: parsed).map(options(of:))
            }
            XCTAssertGreaterThan(reference.counts.hits, 0, "the parser no longer logs descriptions: \(description)")

            let log = ParserLog(secret)
            var got: [String] = []
            try log.during {
                let element = try makeTransform(description, name: "t")
                gst_object_ref_sink(element)
                defer { gst_object_unref(element) }
                got = rtpscripttransforms(in: element).map(options(of:))
            }
            XCTAssertGreaterThan(log.counts.lines, 10, "nothing was logged: the check would be empty")
            XCTAssertEqual(log.counts.hits, 0, "the parser saw the secret: \(description)")
            XCTAssertEqual(Set(got), Set(expected), description)
            XCTAssertFalse(got.contains { $0.hasPrefix("pending-options") }, "\(got)")
            XCTAssertFalse(got.allSatisfy(\.isEmpty), "no options set: \(description)")
        }
        XCTAssertEqual(launchValue(#""a\"b\\c""#), #"a"b\c"#)
        XCTAssertEqual(launchValue(#"plain\ text"#), "plain text")
    }

    func testOptionsThatAreNotAStructureAreRefusedWithoutThem() {
        XCTAssertThrowsError(try makeTransform(#"rtpscripttransform options="sframe,key=(string)00aa,broken=(int)x""#, name: "t")) { error in
            XCTAssertFalse("\(error)".contains("00aa"), "\(error)")
            XCTAssertTrue("\(error)".contains("options=<hidden>"), "\(error)")
        }
    }

    private func rtpscripttransforms(in element: UnsafeMutablePointer<GstElement>) -> [UnsafeMutablePointer<GstElement>] {
        var found: [UnsafeMutablePointer<GstElement>] = []
        func check(_ candidate: UnsafeMutablePointer<GstElement>) {
            if let typeName = g_type_name(swift_type_from_instance(candidate)), String(cString: typeName) == "GstRtpScriptTransform" {
                found.append(candidate)
            }
        }
        check(element)
        if g_type_is_a(swift_type_from_instance(element), gst_bin_get_type()) != 0 {
            let iterator = gst_bin_iterate_recurse(UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstBin.self))
            var item = GValue()
            while gst_iterator_next(iterator, &item) == GST_ITERATOR_OK {
                if let child = g_value_get_object(&item) { check(child.assumingMemoryBound(to: GstElement.self)) }
                g_value_reset(&item)
            }
            g_value_unset(&item)
            gst_iterator_free(iterator)
        }
        return found
    }
}
