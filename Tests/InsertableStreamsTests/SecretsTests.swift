@testable import BuiltinTransforms
import CGStreamer
import FrameCryptor
import Foundation
import InsertableStreams
import OpenSSLCrypto
import SFrame
import XCTest

/// No key, passphrase or derived key ever appears in a bus message, an error or warning text or
/// debug string, a GStreamer log line at any level (GST_DEBUG=*:9), a Swift error's text or a
/// key type's description. Keys are set every way there is (options, each post-message, sframe
/// and framecryptor, sender and receiver, running and not running, valid and invalid, in the
/// `worker` string by mistake) while frames flow through real pipelines, and every line is
/// searched for every form of every key (`SecretNeedles`). Keys are random per run.
final class SecretsTests: XCTestCase {
    override func setUp() {
        _ = TestEnvironment.ready
    }

    /// What one run sets, by name.
    struct Secrets {
        let needles = SecretNeedles()
        private(set) var keys: [String: [UInt8]] = [:]
        private(set) var passphrases: [String: String] = [:]

        mutating func key(_ name: String, bytes count: Int = 16) -> String {
            let bytes = SecretNeedles.randomKey(count)
            keys[name] = bytes
            needles.add(name, key: bytes)
            return SecretNeedles.hex(bytes)
        }

        mutating func passphrase(_ name: String) -> String {
            let text = SecretNeedles.randomPassphrase()
            passphrases[name] = text
            needles.add(name, passphrase: text)
            return text
        }

        /// Keys derived from the others (what the transforms compute; they must not show either).
        func derived(_ name: String, _ bytes: [UInt8]) { needles.add(name, key: bytes) }
    }

    private static let rtpscripttransform = "rtpscripttransform"

    func testNoKeyAppearsInAnyMessageLogLineOrErrorText() throws {
        var secrets = Secrets()
        let control = secrets.key("control")   // written on purpose: proves the search finds keys
        let sframeSend = secrets.key("sframe options key (string)")
        let sframeReceive = secrets.key("sframe options key (buffer)")
        let sframeList = secrets.key("sframe options keys= entry")
        let sframeAdd = secrets.key("sframe add-key (buffer)", bytes: 32)
        let sframeSet = secrets.key("sframe set-key (string)")
        let passphrase1 = secrets.passphrase("framecryptor options passphrase")
        let passphrase2 = secrets.passphrase("framecryptor set-key passphrase")
        let raw1 = secrets.key("framecryptor set-key key (buffer)", bytes: 32)
        let raw2 = secrets.key("framecryptor set-key key (string)")
        let jitsiKey = secrets.key("framecryptor jitsi options key", bytes: 32)

        // What the transforms derive from them.
        for (name, hex) in [("sframe options key (string)", sframeSend), ("sframe options key (buffer)", sframeReceive),
                            ("sframe set-key (string)", sframeSet)] {
            let material = try SFrameKeyMaterial(suite: .aes128GcmSha256_128, keyID: 1, baseKey: secrets.keys[name]!)
            secrets.derived("\(name) derived key", material.keyBytes)
            secrets.derived("\(name) derived salt", material.salt)
            XCTAssertEqual(SecretNeedles.hex(secrets.keys[name]!), hex)
        }
        let liveKit = FrameKeyDerivation(profile: .livekit)
        for text in [passphrase1, passphrase2] {
            let material = try FrameKeyMaterial.passphrase(text)
            secrets.derived("PBKDF2 of a passphrase", try liveKit.keyBytes(material))
            let ratcheted = try liveKit.ratchet(material)
            secrets.derived("ratchet step of a passphrase", ratcheted.bytes)
            secrets.derived("key of the ratchet step", try liveKit.keyBytes(ratcheted))
        }
        let rawMaterial = try FrameKeyMaterial(kind: .raw, bytes: secrets.keys["framecryptor set-key key (buffer)"]!)
        secrets.derived("HKDF of raw key material", try liveKit.keyBytes(rawMaterial))
        secrets.derived("ratchet step of raw key material", try liveKit.ratchet(rawMaterial).bytes)
        secrets.derived("key of the raw ratchet step", try liveKit.keyBytes(liveKit.ratchet(rawMaterial)))
        secrets.derived("Jitsi HKDF", try FrameKeyDerivation(profile: .jitsi).keyBytes(FrameKeyMaterial(kind: .raw, bytes: secrets.keys["framecryptor jitsi options key"]!)))

        let sframeMaterial = try SFrameKeyMaterial(suite: .aes256GcmSha512_128, keyID: 9, baseKey: secrets.keys["sframe add-key (buffer)"]!)
        secrets.derived("SFrame AES-256 key", sframeMaterial.keyBytes)

        // Invalid keys: they must not show either.
        let shortKey = secrets.key("short key", bytes: 8)
        let badHexKey = secrets.key("key with a bad hex digit")
        let unknownFieldKey = secrets.key("key in an unknown field")
        let wrongSideKey = secrets.key("add-key on a sender")
        let badKeyIDKey = secrets.key("key with a bad key-id")
        let malformedKey = secrets.key("key in a malformed worker string")
        let idleKey = secrets.key("set-key on an element that is not running")
        let bothPassphrase = secrets.passphrase("passphrase given with a key")
        let bothKey = secrets.key("key given with a passphrase")
        let farIndexKey = secrets.key("key at key-index 300")
        let bufferPassphrase = secrets.passphrase("passphrase as a (buffer)")

        // The needles are complete: the log function reads them from streaming threads from now on.
        let capture = LogCapture(needles: secrets.needles)
        var busTexts: [String] = []
        var swiftTexts: [String] = []
        let began = g_get_monotonic_time()
        capture.start()
        defer { capture.stop() }

        // 1. Frames flowing through sframe and framecryptor (LiveKit and Jitsi), both sides.
        let opus = "audiotestsrc is-live=true num-buffers=30 samplesperbuffer=960 ! audio/x-raw,rate=48000,channels=1 ! opusenc ! tee name=t"
        func pair(_ name: String, worker: String) -> String {
            "t. ! queue ! \(Self.rtpscripttransform) name=\(name)-send side=send worker=\"\(worker)\" ! rtpopuspay ! rtpopusdepay ! "
                + "\(Self.rtpscripttransform) name=\(name)-receive side=receive worker=\"\(worker)\" ! fakesink name=\(name)-out"
        }
        let call = try RecordedPipeline([opus, pair("sframe", worker: "sframe"), pair("livekit", worker: "framecryptor"),
                                         pair("jitsi", worker: "framecryptor profile=jitsi")].joined(separator: " "))
        func options(_ element: String, _ text: String) {
            guard let structure = gst_structure_from_string(text, nil) else { return XCTFail("not a structure: \(element)") }
            setStructureProperty(call.element(element), "options", structure)
        }
        func post(_ element: String, _ text: String) {
            postStructure(call.element(element), gst_structure_from_string(text, nil))
        }
        options("sframe-send", "sframe, key=(string)\(sframeSend), key-id=(guint64)1")
        options("sframe-receive", "sframe, key=(buffer)\(sframeSend), key-id=(guint64)1, keys=(string)\"2:\(sframeReceive),4:\(sframeList)\"")
        options("livekit-send", "framecryptor, passphrase=(string)\(passphrase1), key-index=(int)0")
        options("livekit-receive", "framecryptor, passphrase=(string)\(passphrase1)")
        options("jitsi-send", "framecryptor, key=(string)\(jitsiKey), key-index=(int)5")
        options("jitsi-receive", "framecryptor, key=(buffer)\(jitsiKey), key-index=(int)5")
        call.play()
        call.record(for: 0.2)

        // Valid run-time keys: each post-message that carries one.
        post("sframe-receive", "add-key, key=(buffer)\(sframeAdd), key-id=(guint64)3")
        post("sframe-receive", "set-key, key=(string)\(sframeSet), key-id=(guint64)5")
        post("sframe-send", "set-key, key=(buffer)\(sframeAdd), key-id=(guint64)3")
        post("sframe-receive", "remove-key, key-id=(guint64)2")
        post("livekit-receive", "set-key, passphrase=(string)\(passphrase2), key-index=(int)1")
        post("livekit-send", "set-key, passphrase=(string)\(passphrase2), key-index=(int)1")
        post("livekit-receive", "set-key, key=(buffer)\(raw1), key-index=(int)2")
        post("livekit-receive", "set-key, key=(string)\(raw2), key-index=(int)3")
        post("livekit-send", "set-key, key=(buffer)\(raw1), key-index=(int)2")
        post("livekit-send", "ratchet-key, key-index=(int)2")
        post("jitsi-send", "ratchet-key, key-index=(int)5")
        call.record(for: 0.2)

        // Invalid ones, on both sides of both transforms.
        for element in ["sframe-send", "sframe-receive"] {
            post(element, "set-key, key=(string)\(shortKey), key-id=(guint64)7")
            post(element, "set-key, key=(string)\(badHexKey)z, key-id=(guint64)7")
            post(element, "set-key, key=(int)12345, key-id=(guint64)7")
            post(element, "set-key, base-key=(string)\(unknownFieldKey), key-id=(guint64)7")
            post(element, "add-key, key=(string)\(wrongSideKey), key-id=(guint64)7")
            post(element, "set-key, key=(string)\(badKeyIDKey), key-id=(string)minus-one")
        }
        for element in ["livekit-send", "livekit-receive", "jitsi-send", "jitsi-receive"] {
            post(element, "set-key, passphrase=(string)\(bothPassphrase), key=(string)\(bothKey)")
            post(element, "set-key, key=(string)\(shortKey), key-index=(int)1")
            post(element, "set-key, key=(string)\(badHexKey)z")
            post(element, "set-key, key=(string)\(farIndexKey), key-index=(int)300")
            post(element, "set-key, passphrase=(buffer)\(SecretNeedles.hex(Array(bufferPassphrase.utf8)))")
            post(element, "set-key, passphrase=(int)7")
            post(element, "ratchet-key, key-index=(int)9")
        }
        // No structure at all (what an application posts when its text did not parse: GStreamer's
        // parser itself logs a malformed text, see testWhatGStreamerItselfPrints).
        postStructure(call.element("sframe-send"), nil)
        // The control: a key written on purpose to the log and to the bus must be found.
        let testCategory = swift_debug_category_new("secrets-test", 0, "SecretsTests")
        gst_debug_log_literal(testCategory, GST_LEVEL_MEMDUMP, #fileID, #function, #line, nil, "control \(control)")
        gst_element_post_message(call.element("sframe-out"),
                                 gst_message_new_element(nil, gst_structure_from_string("control, key=(string)\(control)", nil)))

        call.record(for: 20) { $0.hasPrefix("eos") || $0.hasPrefix("error") }
        let callSeconds = Double(g_get_monotonic_time() - began) / 1e6
        XCTAssertTrue(call.sawEndOfStream, "\(call.errors)")
        for element in ["sframe-send", "sframe-receive", "livekit-send", "livekit-receive", "jitsi-send", "jitsi-receive"] {
            post(element, "get-stats")
        }
        var stats: [String] = []
        call.record(for: 5) { text in
            if text.contains("-stats") { stats.append(text) }
            return stats.count == 6
        }
        XCTAssertEqual(stats.count, 6, "\(call.messages.suffix(20))")
        for element in ["sframe-receive", "livekit-receive", "jitsi-receive"] {
            let decrypted = stats.first { $0.contains(" | \(element) | ") }.flatMap { Self.field("decrypted", in: $0) } ?? 0
            XCTAssertGreaterThan(decrypted, 12, "\(element) decrypted too few frames: \(stats)")
        }
        XCTAssertTrue(call.messages.contains { $0.contains("sframe-keys") && $0.contains("key-id") }, "no sframe-keys message")
        XCTAssertTrue(call.messages.contains { $0.contains("framecryptor-keys") }, "no framecryptor-keys message")
        XCTAssertTrue(call.messages.contains { $0.contains("warning") && $0.contains("needs a GstStructure") }, "the NULL structure was not refused")
        busTexts += call.messages

        // 2. post-message on elements that are not running (the issue's example), both kinds.
        for factory in [Self.rtpscripttransform, "trackprocessor"] {
            let idle = gst_element_factory_make(factory, nil)!
            let holder = RecordedPipeline(holding: idle)
            postStructure(idle, gst_structure_from_string("set-key, key=(string)\(idleKey), key-id=(guint64)1", nil))
            postStructure(idle, gst_structure_from_string("set-key, passphrase=(string)\(bothPassphrase)", nil))
            holder.record(for: 0.2)
            XCTAssertTrue(holder.messages.contains { $0.contains("message set-key dropped") }, "\(factory): \(holder.messages)")
            busTexts += holder.messages
        }

        // 3. Keys the elements refuse at start, from options and from a worker string.
        let refusedOptions: [(worker: String, side: String, options: String)] = [
            ("sframe", "send", "sframe, key=(string)\(shortKey)"),
            ("sframe", "send", "sframe, key=(string)\(badHexKey)g"),
            ("sframe", "receive", "sframe, keys=(string)\"1-\(sframeList)\""),
            ("sframe", "receive", "sframe, keys=(string)\"1:\(badHexKey)z\""),
            ("sframe", "send", "sframe, keys=(string)\"1:\(sframeReceive),2:\(sframeList)\""),
            ("framecryptor", "send", "framecryptor, passphrase=(string)\(bothPassphrase), key=(string)\(bothKey)"),
            ("framecryptor", "receive", "framecryptor, key=(string)\(shortKey)"),
            ("framecryptor", "receive", "framecryptor, key=(string)\(badHexKey)z"),
            ("framecryptor", "receive", "framecryptor, passphrase=(string)\(bothPassphrase), key-index=(int)300"),
            ("framecryptor profile=jitsi", "send", "framecryptor, passphrase=(string)\(bothPassphrase)"),
        ]
        let refusedWorkers = ["sframe key=\(shortKey)", "sframe suite=\(badHexKey)", "sframe \"key=\(badHexKey)", "\(badHexKey) ! sframe",
                              "sframe \(badHexKey)", "framecryptor passphrase=\(bothPassphrase)", "framecryptor ratchet-window-size=\(badHexKey)"]
        let refusals = refusedOptions.map { ($0.worker, $0.side, Optional($0.options)) } + refusedWorkers.map { ($0, "send", nil) }
        for (worker, side, optionsText) in refusals {
            let pipeline = try RecordedPipeline("audiotestsrc num-buffers=1 ! opusenc ! \(Self.rtpscripttransform) name=x side=\(side) ! fakesink")
            setStringProperty(pipeline.element("x"), "worker", worker)
            if let optionsText { setStructureProperty(pipeline.element("x"), "options", gst_structure_from_string(optionsText, nil)!) }
            pipeline.runToEnd()
            XCTAssertFalse(pipeline.errors.isEmpty, "not refused: worker \(worker), options \(optionsText ?? "none")")
            busTexts += pipeline.messages
        }

        let refusalSeconds = Double(g_get_monotonic_time() - began) / 1e6 - callSeconds
        // 4. The same mistakes through the Swift API: the errors' texts.
        for (worker, _, optionsText) in refusals {
            let options = try optionsText.map { try TransformMessage(parsing: $0) } ?? TransformMessage("options")
            do {
                let transformers = try EncodedTransformRegistry.makeTransformers(worker, context: EncodedTransformContext(elementName: "x", options: options))
                XCTAssertFalse(transformers.isEmpty)
            } catch {
                swiftTexts += ["\(error)", String(reflecting: error)]
            }
        }
        for text in ["sframe \"key=\(malformedKey)", "sframe \(malformedKey)", "key=\(malformedKey) ! sframe", "sframe ! ! key=\(malformedKey)"] {
            XCTAssertThrowsError(try WorkerDescription(parsing: text)) { swiftTexts += ["\($0)", String(reflecting: $0)] }
        }
        for text in ["set-key, key=(string)\(shortKey)", "set-key, key=(string)\(badHexKey)z", "add-key, key=(string)\(badKeyIDKey), key-id=(int)-1"] {
            XCTAssertThrowsError(try SFrameKeyCommand(TransformMessage(parsing: text))) { swiftTexts += ["\($0)", String(reflecting: $0)] }
        }
        for text in ["set-key, key=(string)\(shortKey)", "set-key, passphrase=(string)\(bothPassphrase), key=(string)\(bothKey)",
                     "set-key, key=(string)\(farIndexKey), key-index=(int)300"] {
            XCTAssertThrowsError(try FrameCryptorCommand(TransformMessage(parsing: text))) { swiftTexts += ["\($0)", String(reflecting: $0)] }
        }
        XCTAssertThrowsError(try FrameKeyDerivation(profile: .jitsi).keySet(FrameKeyMaterial.passphrase(bothPassphrase))) {
            swiftTexts += ["\($0)", String(reflecting: $0)]
        }
        XCTAssertThrowsError(try AESGCM(key: secrets.keys["short key"]!)) { swiftTexts += ["\($0)", String(reflecting: $0)] }
        XCTAssertThrowsError(try SFrameKeyMaterial(suite: .aes128GcmSha256_128, keyID: 1, key: secrets.keys["short key"]!, salt: [1])) {
            swiftTexts += ["\($0)", String(reflecting: $0)]
        }

        // 5. The key types' descriptions, debug descriptions and dumps.
        let passphraseMaterial = try FrameKeyMaterial.passphrase(passphrase1)
        let keyValues: [Any] = [
            sframeMaterial, passphraseMaterial, rawMaterial, try liveKit.keySet(passphraseMaterial),
            SFrameKeyInput(keyID: 1, baseKey: secrets.keys["sframe options key (string)"]!),
            try XCTUnwrap(SFrameKeyCommand(TransformMessage(parsing: "set-key, key=(string)\(sframeSet)"))),
            try FrameCryptorKeyInput.parse(TransformMessage(parsing: "set-key, key=(string)\(raw2)"), context: "test"),
            try XCTUnwrap(FrameCryptorCommand(TransformMessage(parsing: "set-key, passphrase=(string)\(passphrase2)"))),
            try FrameKeyRing(size: 4, derivation: liveKit),
        ]
        var ring = try FrameKeyRing(size: 4, derivation: liveKit)
        try ring.setKey(passphraseMaterial, index: 1)
        for value in keyValues + [ring] {
            var dumped = ""
            dump(value, to: &dumped)
            swiftTexts += [String(describing: value), String(reflecting: value), dumped]
        }
        XCTAssertTrue(swiftTexts.contains { $0.contains("<redacted>") }, "no redacted description: \(swiftTexts.suffix(8))")

        // What was seen.
        capture.stop()
        XCTAssertEqual(swift_debug_min_level(), capture.previousMinimum, "GStreamer's logging was left on")
        let seconds = Double(g_get_monotonic_time() - began) / 1e6
        let counts = capture.snapshot
        print("SecretsTests: \(counts.lines) log lines (\(counts.bytes) bytes, \(counts.byCategory.count) categories, "
              + "\(counts.byCategory[Self.rtpscripttransform] ?? 0) from rtpscripttransform, \(counts.namingKeys) naming a key field), "
              + "\(busTexts.count) bus messages, \(swiftTexts.count) Swift texts, \(secrets.needles.labels.count) secrets "
              + "in \(secrets.needles.needles.count) forms, \(String(format: "%.1f", seconds)) s "
              + "(call \(String(format: "%.1f", callSeconds)) s, \(refusals.count) refusals \(String(format: "%.1f", refusalSeconds)) s, "
              + "scanning \(String(format: "%.1f", Double(counts.scanMicroseconds) / 1e6)) s)")
        XCTAssertGreaterThan(counts.lines, 10_000, "the capture saw too little to mean anything")
        XCTAssertGreaterThanOrEqual(counts.byCategory[Self.rtpscripttransform] ?? 0, 6, "the elements' own category was not captured")
        XCTAssertGreaterThan(counts.namingKeys, 10)
        XCTAssertTrue(busTexts.contains { $0.contains("key") && $0.contains("error") }, "no refusal on the bus")

        // The control was found, in the log and on the bus: the search works.
        XCTAssertTrue(counts.hits.contains { $0.category == "secrets-test" && $0.labels.contains("control (hex)") }, "the search missed the control key in the log")
        XCTAssertTrue(busTexts.contains { secrets.needles.find(in: $0).contains("control (hex)") }, "the search missed the control key on the bus")

        // Nothing else.
        let logLeaks = counts.hits.filter { hit in !hit.labels.allSatisfy { $0.hasPrefix("control") } }
        XCTAssertTrue(logLeaks.isEmpty, "secrets in \(logLeaks.count) log lines:\n\(logLeaks.prefix(20).map(\.description).joined(separator: "\n"))")
        let busLeaks = busTexts.compactMap { text -> String? in
            let found = secrets.needles.find(in: text).filter { !$0.hasPrefix("control") }
            return found.isEmpty ? nil : "\(found): \(text.prefix(300))"
        }
        XCTAssertTrue(busLeaks.isEmpty, "secrets in \(busLeaks.count) bus messages:\n\(busLeaks.prefix(20).joined(separator: "\n"))")
        let swiftLeaks = swiftTexts.compactMap { text -> String? in
            let found = secrets.needles.find(in: text)
            return found.isEmpty ? nil : "\(found): \(text.prefix(300))"
        }
        XCTAssertTrue(swiftLeaks.isEmpty, "secrets in \(swiftLeaks.count) Swift texts:\n\(swiftLeaks.prefix(20).joined(separator: "\n"))")
    }

    /// The plugin's own debug categories: a secret in one of them would be ours to fix.
    static let ourCategories: Set<String> = ["rtpscripttransform", "rtpvp8e2eepay", "trackgenerator", "trackprocessor", "insertablestreams-modules"]

    /// What GStreamer and GLib print by themselves when an application hands them a key in a
    /// string they parse: gst_parse_launch (a gst-launch line), gst_util_set_object_arg (how
    /// gst-launch and many applications set `options` from text), and gst_structure_from_string
    /// of a malformed structure. Outside the plugin's control; documented in RELIABILITY.md with
    /// the advice to users. Checked here: whatever prints a key is GStreamer's own code (none of
    /// the plugin's categories) and the plugin's bus messages stay clean.
    func testWhatGStreamerItselfPrints() throws {
        var secrets = Secrets()
        let launchKey = secrets.key("key on a gst_parse_launch line")
        let argKey = secrets.key("key set with gst_util_set_object_arg")
        let malformedKey = secrets.key("key in a malformed structure string")
        let postKey = secrets.key("key given by post-message")
        let capture = LogCapture(needles: secrets.needles)
        var busTexts: [String] = []
        var dotFindings: [String] = []
        capture.start()
        do {
            defer { capture.stop() }
            let pipeline = try RecordedPipeline("""
                audiotestsrc is-live=true num-buffers=25 samplesperbuffer=960 ! opusenc ! \
                rtpscripttransform side=send worker=sframe options="sframe,key=(string)\(launchKey)" ! \
                rtpscripttransform name=receiver side=receive worker=sframe ! fakesink
                """)
            gst_util_set_object_arg(UnsafeMutableRawPointer(pipeline.element("receiver")).assumingMemoryBound(to: GObject.self),
                                    "options", "sframe, key=(string)\(argKey)")
            XCTAssertNil(gst_structure_from_string("set-key, key=(string)\(malformedKey), key-id=(guint64)", nil))
            // TransformMessage(parsing:) (the Swift API; the elements only parse what GStreamer
            // serialized) hands its text to the same parser: its error text is ours, and clean.
            for text in ["set-key, key=(string)\(malformedKey), key-id=(guint64)", "key=(string)\(malformedKey)", "set-key, key=(string)\"\(malformedKey)"] {
                XCTAssertThrowsError(try TransformMessage(parsing: text)) { error in
                    XCTAssertTrue(secrets.needles.find(in: "\(error) \(String(reflecting: error))").isEmpty, "\(error)")
                    XCTAssertTrue("\(error)".contains("is not a GstStructure"), "\(error)")
                }
            }
            pipeline.play()
            pipeline.record(for: 0.2)
            // A key given by post-message is kept by the transform only: no property shows it.
            postStructure(pipeline.element("receiver"), gst_structure_from_string("add-key, key=(string)\(postKey), key-id=(guint64)2", nil))
            if !pipeline.sawEndOfStream { pipeline.record(for: 10) { $0.hasPrefix("eos") || $0.hasPrefix("error") } }
            XCTAssertTrue(pipeline.sawEndOfStream, "\(pipeline.errors)")
            busTexts = pipeline.messages
            XCTAssertTrue(busTexts.contains { $0.contains("| receiver | sframe-keys") }, "add-key did not arrive: \(busTexts)")
            // Pipeline graphs (GST_DEBUG_DUMP_DOT_DIR, gst_debug_bin_to_dot_file) list the
            // properties that differ from their defaults: `options` too, up to 80 characters.
            let dot = UnsafeMutableRawPointer(pipeline.pipeline).withMemoryRebound(to: GstBin.self, capacity: 1) { bin in
                gst_debug_bin_to_dot_data(bin, GST_DEBUG_GRAPH_SHOW_ALL).map { text in
                    defer { g_free(text) }
                    return String(cString: text)
                } ?? ""
            }
            XCTAssertTrue(dot.contains("rtpscripttransform"), "no graph")
            dotFindings = secrets.needles.find(in: dot)
        }
        XCTAssertEqual(swift_debug_min_level(), capture.previousMinimum, "GStreamer's logging was left on")
        let hits = capture.snapshot.hits
        var byOrigin: [String: Set<String>] = [:]
        for hit in hits {
            for label in hit.labels { byOrigin[label.components(separatedBy: " (").first!, default: []].insert("\(hit.category) \(hit.level)") }
        }
        print("SecretsTests: GStreamer's own lines holding a key: \(hits.count); categories by way of setting it: "
              + byOrigin.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.sorted().joined(separator: ", "))" }.joined(separator: "; "))
        for hit in hits where hit.labels.contains(where: { !$0.hasPrefix("key on") && !$0.hasPrefix("key set with") && !$0.hasPrefix("key in a malformed") }) {
            XCTFail("unexpected secret: \(hit)")
        }
        let ours = hits.filter { Self.ourCategories.contains($0.category) }
        XCTAssertTrue(ours.isEmpty, "the plugin's categories print a key:\n\(ours.prefix(10).map(\.description).joined(separator: "\n"))")
        let busLeaks = busTexts.filter { !secrets.needles.find(in: $0).isEmpty }
        XCTAssertTrue(busLeaks.isEmpty, "\(busLeaks)")
        XCTAssertFalse(hits.contains { $0.labels.contains { $0.hasPrefix("key given by post-message") } }, "\(hits)")
        print("SecretsTests: a pipeline graph (gst_debug_bin_to_dot_data, SHOW_ALL) holds: \(dotFindings.isEmpty ? "no key" : dotFindings.joined(separator: ", "))")
        XCTAssertFalse(dotFindings.contains { $0.hasPrefix("key given by post-message") }, "\(dotFindings)")
    }

    /// The same with the environment variable, as users run it: gst-launch-1.0 with the built
    /// plugin, GST_DEBUG=*:9 into a file. The key is on gst-launch's command line, so
    /// GStreamer's parser logs it (above); no line of the plugin's categories holds it, and no
    /// bus message (gst-launch prints errors and, with -m, every message).
    func testGstLaunchWithGstDebug9() throws {
        guard PluginTests.pluginFolder != nil else { throw XCTSkip("libgstinsertablestreams.so is not built: run `swift build` first") }
        var secrets = Secrets()
        let key = secrets.key("key on the gst-launch command line")
        // The registry first, without logging (a scan at *:9 writes 10^5 lines and takes seconds).
        _ = try PluginTests.run("/usr/bin/gst-inspect-1.0", ["rtpscripttransform"])
        let logFile = NSTemporaryDirectory() + "secrets-gst-debug-\(getpid()).log"
        defer { try? FileManager.default.removeItem(atPath: logFile) }
        let arguments = ["-m", "audiotestsrc", "num-buffers=5", "!", "opusenc", "!", "rtpscripttransform", "side=send", "worker=sframe",
                         "options=sframe,key=(string)\(key)", "!", "rtpopuspay", "!", "rtpopusdepay", "!",
                         "rtpscripttransform", "side=receive", "worker=sframe", "options=sframe,key=(string)\(key)", "!", "fakesink"]
        let result = try PluginTests.run("/usr/bin/gst-launch-1.0", arguments,
                                         environment: ["GST_DEBUG": "*:9", "GST_DEBUG_FILE": logFile, "GST_DEBUG_NO_COLOR": "1"])
        XCTAssertEqual(result.status, 0, result.output.suffix(2000).description)
        XCTAssertTrue(secrets.needles.find(in: result.output).isEmpty, "gst-launch's output shows a key: \(result.output.suffix(2000))")
        let log = try String(contentsOfFile: logFile, encoding: .utf8)
        var lines = 0, ours = 0
        var hitsByCategory: [String: Int] = [:]
        for line in log.split(separator: "\n") {
            lines += 1
            // "0:00:00.1 PID THREAD LEVEL CATEGORY file:line:function:<object> text"
            let columns = line.split(separator: " ", omittingEmptySubsequences: true)
            let category = columns.count > 4 ? String(columns[4]) : "?"
            if Self.ourCategories.contains(category) { ours += 1 }
            if !secrets.needles.find(in: String(line)).isEmpty { hitsByCategory[category, default: 0] += 1 }
        }
        print("SecretsTests: gst-launch GST_DEBUG=*:9: \(lines) lines, \(ours) from the plugin's categories; lines holding a key by category: \(hitsByCategory.sorted { $0.key < $1.key })")
        XCTAssertGreaterThan(lines, 5_000)
        XCTAssertGreaterThanOrEqual(ours, 2, "the plugin's categories were not in the log")
        XCTAssertTrue(Set(hitsByCategory.keys).isDisjoint(with: Self.ourCategories), "\(hitsByCategory)")
    }

    /// An unsigned field of a serialized structure, e.g. `decrypted=(guint64)42`.
    static func field(_ name: String, in text: String) -> Int? {
        guard let range = text.range(of: "\(name)=(") else { return nil }
        let rest = text[range.upperBound...].drop { $0 != ")" }.dropFirst()
        return Int(rest.prefix { $0.isNumber })
    }
}
