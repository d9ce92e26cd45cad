import CGStreamer
import InsertableStreams
import SFrame
import Synchronization
import XCTest

/// The `sframe` encoded transform in plain pipelines: encoder -> sframe (send) -> payloader ->
/// depayloader -> sframe (receive) -> decoder, compared with an unencrypted branch of the same
/// stream. (Through two webrtcbin peers: WebRTCLoopbackTests.)
final class SFrameTransformTests: XCTestCase {
    static let key1 = "000102030405060708090a0b0c0d0e0f"
    static let key2 = "101112131415161718191a1b1c1d1e1f"

    override func setUp() {
        _ = TestEnvironment.ready
        SFrameTestTransforms.register()
    }

    /// An `rtpscripttransform` running sframe with one key.
    static func sframe(_ side: String, key: String = key1, keyID: Int = 1, parameters: String = "", name: String? = nil) -> String {
        let nameProperty = name.map { " name=\($0)" } ?? ""
        return "rtpscripttransform\(nameProperty) side=\(side) worker=\"sframe\(parameters)\" options=\"sframe,key=(string)\(key),key-id=(guint64)\(keyID)\""
    }

    private static let video = "videotestsrc num-buffers=45 pattern=ball ! video/x-raw,width=160,height=120,framerate=30/1"
    private static let audio = "audiotestsrc num-buffers=50 ! opusenc"

    // MARK: Round trips

    /// Payloaders that carry frames unchanged: the receiver gives back exactly the encoder's
    /// bytes; the wire carries the clear prefix, then an SFrame header with key id 1, ciphertext
    /// and tag (16 bytes for AES-GCM), so each frame grows by header + tag.
    func testRoundTripThroughPayloadersRestoresEveryByte() throws {
        let cases: [(name: String, encoder: String, pay: String, depay: String, clear: ([UInt8]) -> Int)] = [
            ("Opus", Self.audio, "rtpopuspay", "rtpopusdepay", { _ in 1 }),
            ("VP8 moving ball", "\(Self.video) ! vp8enc deadline=1", "rtpvp8pay", "rtpvp8depay", { bytes in
                bytes.withUnsafeBytes { FrameLayout.of($0, codec: .vp8, policy: .gstreamer).clearCount }
            }),
            ("VP8 static", "videotestsrc num-buffers=45 pattern=black ! video/x-raw,width=160,height=120 ! vp8enc deadline=1",
             "rtpvp8pay", "rtpvp8depay", { bytes in bytes.withUnsafeBytes { FrameLayout.of($0, codec: .vp8, policy: .gstreamer).clearCount } }),
            ("VP9", "\(Self.video) ! vp9enc deadline=1", "rtpvp9pay", "rtpvp9depay", { bytes in
                bytes.withUnsafeBytes { VP9FrameHeader.isKeyFrame($0) } ? 10 : 1
            }),
            // The working alternative for VP8 with nothing clear: rtpgstpay carries any bytes.
            ("VP8 clear=none via rtpgstpay", "\(Self.video) ! vp8enc deadline=1", "rtpgstpay", "rtpgstdepay", { _ in 0 }),
        ]
        for (name, encoder, pay, depay, clear) in cases {
            let parameters = name.contains("clear=none") ? " clear=none" : ""
            let pipeline = try TestPipeline("""
                \(encoder) ! tee name=t t. ! queue ! fakesink name=reference
                t. ! queue ! \(Self.sframe("send", parameters: parameters)) ! identity name=wire ! \(pay) ! \(depay) ! \
                \(Self.sframe("receive", parameters: parameters, name: "receiver")) ! fakesink name=out
                """)
            let reference = pipeline.collect("reference"), wire = pipeline.collect("wire"), output = pipeline.collect("out")
            XCTAssertTrue(pipeline.runToEnd(timeout: 60), "\(name): \(pipeline.messages)")
            XCTAssertGreaterThan(reference.count, 40, name)
            XCTAssertEqual(output.count, reference.count, name)
            XCTAssertTrue(zip(reference.buffers, output.buffers).allSatisfy { $0.bytes == $1.bytes }, "\(name): decrypted bytes differ")
            XCTAssertEqual(wire.count, reference.count, name)
            var plaintexts: [UInt8] = [], ciphertexts: [UInt8] = []
            for (original, sent) in zip(reference.buffers, wire.buffers) {
                let clearCount = clear(original.bytes)
                XCTAssertEqual(Array(sent.bytes.prefix(clearCount)), Array(original.bytes.prefix(clearCount)), "\(name): clear part changed")
                let protected = Array(sent.bytes.dropFirst(clearCount))
                let header = try SFrameHeader.decode(protected).0
                XCTAssertEqual(header.keyID, 1, name)
                XCTAssertEqual(sent.bytes.count, original.bytes.count + header.count + 16, "\(name): size = original + header + tag")
                let body = original.bytes.dropFirst(clearCount)
                plaintexts += body
                ciphertexts += protected.dropFirst(header.count).prefix(body.count)
            }
            // Ciphertext equal to the plaintext would mean no encryption. Compared over the whole
            // stream: a static VP8 frame's body can be a single byte, which matches by chance
            // (1 in 256).
            XCTAssertGreaterThan(plaintexts.count, 16, name)
            XCTAssertNotEqual(ciphertexts, plaintexts, "\(name): not encrypted")
            XCTAssertEqual(pipeline.uint64("receiver", "written-frames"), UInt64(reference.count), name)
            XCTAssertFalse(pipeline.messages.contains { $0.structure.hasPrefix("sframe-error") }, "\(name): \(pipeline.messages)")
        }
    }

    /// H.264 (and H.265 when x265enc is installed): the depayloader rewrites start codes and adds
    /// parameter sets, so pictures are compared: identical to a direct decode. The encrypted part
    /// is escaped (no start code inside), and slice data never appears on the wire.
    func testH26xRoundTripDecodesIdentically() throws {
        var cases = [("H.264", "openh264enc", "rtph264pay config-interval=-1", "rtph264depay", "avdec_h264")]
        if gst_element_factory_find("x265enc") != nil {
            cases.append(("H.265", "x265enc speed-preset=ultrafast tune=zerolatency ! video/x-h265,stream-format=byte-stream,alignment=au",
                          "rtph265pay config-interval=-1", "rtph265depay", "avdec_h265"))
        }
        for (name, encoder, pay, depay, decoder) in cases {
            let decode = "\(decoder) ! videoconvert ! video/x-raw,format=RGBx"
            let pipeline = try TestPipeline("""
                \(Self.video) ! \(encoder) ! tee name=t
                t. ! queue ! \(decode) ! fakesink name=reference
                t. ! queue ! \(Self.sframe("send")) ! \(pay) ! \(depay) ! \(Self.sframe("receive")) ! \(decode) ! fakesink name=out
                """)
            let reference = pipeline.collect("reference"), output = pipeline.collect("out")
            XCTAssertTrue(pipeline.runToEnd(timeout: 60), "\(name): \(pipeline.messages)")
            XCTAssertEqual(reference.count, 45, name)
            XCTAssertEqual(output.count, reference.count, name)
            XCTAssertTrue(zip(reference.buffers, output.buffers).allSatisfy { $0.bytes == $1.bytes }, "\(name): decoded pictures differ")

            // Without the receive transform the decoder gets no picture right (or gives up).
            let undecrypted = try TestPipeline("""
                \(Self.video) ! \(encoder) ! tee name=t
                t. ! queue ! \(decode) ! fakesink name=reference
                t. ! queue ! \(Self.sframe("send")) ! \(pay) ! \(depay) ! \(decode) ! fakesink name=undecrypted async=false
                """)
            let reference2 = undecrypted.collect("reference"), garbage = undecrypted.collect("undecrypted")
            undecrypted.runToEnd(timeout: 60)
            let intact = zip(reference2.buffers, garbage.buffers).filter { meanAbsoluteDifference($0.bytes, $1.bytes) < 3 }.count
            XCTAssertEqual(intact, 0, "\(name): without the receive transform \(intact) of \(garbage.count) pictures decoded correctly")
        }
    }

    /// What the stock VP8 payloader cannot carry: frames encrypted in the browsers' 10/3-byte
    /// layout or entirely (it bool-decodes the first partition). Documented; the alternatives are
    /// the default layout and rtpgstpay (above).
    func testRtpvp8payRefusesVP8EncryptedBeyondItsNeeds() throws {
        for clear in ["web", "none"] {
            let pipeline = try TestPipeline("\(Self.video) ! vp8enc deadline=1 ! \(Self.sframe("send", parameters: " clear=\(clear)")) ! rtpvp8pay ! fakesink")
            XCTAssertFalse(pipeline.runToEnd(timeout: 30))
            XCTAssertTrue(pipeline.errors.contains { $0.source.hasPrefix("rtpvp8pay") && $0.text.contains("Could not encode stream") },
                          "clear=\(clear): \(pipeline.errors)")
        }
    }

    /// Every cipher suite through the Opus payloader.
    func testEveryCipherSuiteRoundTrips() throws {
        for suite in CipherSuite.allCases {
            let parameters = " suite=\(suite)"
            let pipeline = try TestPipeline("""
                audiotestsrc num-buffers=20 ! opusenc ! tee name=t t. ! queue ! fakesink name=reference
                t. ! queue ! \(Self.sframe("send", parameters: parameters)) ! identity name=wire ! rtpopuspay ! rtpopusdepay ! \
                \(Self.sframe("receive", parameters: parameters)) ! fakesink name=out
                """)
            let reference = pipeline.collect("reference"), wire = pipeline.collect("wire"), output = pipeline.collect("out")
            XCTAssertTrue(pipeline.runToEnd(), "\(suite): \(pipeline.messages)")
            XCTAssertEqual(output.buffers.map(\.bytes), reference.buffers.map(\.bytes), "\(suite)")
            let first = try XCTUnwrap(wire.buffers.first), original = try XCTUnwrap(reference.buffers.first)
            let header = try SFrameHeader.decode(first.bytes.dropFirst(1)).0
            XCTAssertEqual(first.bytes.count, original.bytes.count + header.count + suite.tagCount, "\(suite)")
        }
    }

    // MARK: Failing closed

    /// A receiver with the wrong key passes nothing, counts and reports `authentication`
    /// failures (rate-limited), and the pipeline runs to its end.
    func testWrongKeyDecodesNothingAndCountsAuthenticationFailures() throws {
        let pipeline = try TestPipeline("""
            \(Self.video) ! vp8enc deadline=1 ! \(Self.sframe("send")) ! rtpvp8pay ! rtpvp8depay ! \
            \(Self.sframe("receive", key: Self.key2, name: "receiver")) ! vp8dec ! fakesink name=out
            """)
        let output = pipeline.collect("out")
        let messages = SignalRecorder(pipeline.element("receiver"), signal: "message")
        XCTAssertTrue(pipeline.runToEnd(timeout: 60), "\(pipeline.messages)")
        XCTAssertEqual(output.count, 0, "nothing may reach the decoder")
        XCTAssertEqual(pipeline.uint64("receiver", "written-frames"), 0)
        XCTAssertEqual(pipeline.uint64("receiver", "total-frames"), 45)
        let reports = messages.values.filter { $0.hasPrefix("sframe-error") }
        XCTAssertFalse(reports.isEmpty)
        XCTAssertLessThanOrEqual(reports.count, 4, "reports are rate-limited: \(reports)")
        XCTAssertTrue(reports.allSatisfy { $0.contains("kind=(string)authentication") && $0.contains("key-id=(uint)1") }, "\(reports)")
        // The reports add up to every refused frame (the last at EOS).
        let reported = reports.compactMap { try? TransformMessage(parsing: $0).integer("frames") }.reduce(0, +)
        XCTAssertEqual(reported, 45)
        let busReports = pipeline.messages.filter { $0.source == "receiver" && $0.structure.hasPrefix("sframe-error") }
        XCTAssertEqual(busReports.count, reports.count, "each report is an element message too")
        XCTAssertTrue(pipeline.errors.isEmpty, "\(pipeline.errors)")
    }

    /// Unknown key id -> `keyID`; a sender without a key sends nothing and counts `no-key`.
    func testUnknownKeyIDAndSenderWithoutKey() throws {
        let pipeline = try TestPipeline("""
            \(Self.audio) ! \(Self.sframe("send", keyID: 7)) ! rtpopuspay ! rtpopusdepay ! \(Self.sframe("receive", keyID: 1, name: "receiver")) ! fakesink name=out
            audiotestsrc num-buffers=30 ! opusenc ! rtpscripttransform name=keyless side=send worker=sframe ! fakesink name=keyless_out
            """)
        let output = pipeline.collect("out"), keylessOutput = pipeline.collect("keyless_out")
        let receiverMessages = SignalRecorder(pipeline.element("receiver"), signal: "message")
        let senderMessages = SignalRecorder(pipeline.element("keyless"), signal: "message")
        XCTAssertTrue(pipeline.runToEnd(timeout: 30), "\(pipeline.messages)")
        XCTAssertEqual(output.count, 0)
        XCTAssertEqual(keylessOutput.count, 0, "a sender without a key must not send plaintext")
        XCTAssertTrue(receiverMessages.values.contains { $0.contains("kind=(string)keyID") && $0.contains("key-id=(uint)7") }, "\(receiverMessages.values)")
        XCTAssertTrue(senderMessages.values.contains { $0.contains("kind=(string)no-key") }, "\(senderMessages.values)")
    }

    /// 10,000 encrypted Opus frames, all but every 100th mutated (bytes flipped, truncated,
    /// extended, header rewritten) between sender and receiver: every mutated frame is refused and
    /// counted by kind, every intact one decrypts to the encoder's bytes.
    func testTenThousandMutatedFramesAreAllRejected() throws {
        let pipeline = try TestPipeline("""
            audiotestsrc num-buffers=1250 samplesperbuffer=960 ! audio/x-raw,rate=48000 ! opusenc frame-size=2.5 ! tee name=t
            t. ! queue ! fakesink name=reference
            t. ! queue ! \(Self.sframe("send", parameters: " suite=AES_128_CTR_HMAC_SHA256_32")) ! \
            rtpscripttransform worker=mutate options="mutate,seed=(int)7,every=(int)100" ! \
            \(Self.sframe("receive", parameters: " suite=AES_128_CTR_HMAC_SHA256_32", name: "receiver")) ! fakesink name=out
            """)
        let reference = pipeline.collect("reference"), output = pipeline.collect("out")
        let messages = SignalRecorder(pipeline.element("receiver"), signal: "message")
        XCTAssertTrue(pipeline.runToEnd(timeout: 120), "\(pipeline.messages)")
        XCTAssertGreaterThanOrEqual(reference.count, 10_000)  // opusenc adds one at the end
        let intact = stride(from: 0, to: reference.count, by: 100).map { reference.buffers[$0].bytes }
        XCTAssertEqual(output.buffers.map(\.bytes), intact, "exactly the unmutated frames come out, decrypted")
        postMessage(pipeline.element("receiver"), "get-stats")
        let stats = try waitForMessage(messages, named: "sframe-stats")
        let refused = ["authentication", "keyID", "syntax", "replay"].map { stats.integer($0) ?? 0 }
        print("10,000 mutated frames refused as authentication/keyID/syntax/replay: \(refused)")
        XCTAssertEqual(refused.reduce(0, +), reference.count - intact.count, "\(stats)")
        XCTAssertEqual(stats.integer("decrypted"), intact.count)
        XCTAssertGreaterThan(refused[0], 1000, "most mutations fail authentication")
        XCTAssertGreaterThan(refused[2], 100, "truncations are syntax errors")
    }

    /// Straight on the SFrame receiver, every suite: mutated and truncated frames never decrypt.
    func testMutatedFramesNeverDecryptInAnySuite() throws {
        var generator = SplitMix64(seed: 42)
        for suite in CipherSuite.allCases {
            let key = SFrameKeyMaterial(suiteForTests: suite)
            let sender = SFrameSender()
            sender.setKey(key)
            let receiver = SFrameReceiver(detectsReplays: false)
            receiver.addKey(key)
            var kinds: [String: Int] = [:]
            for index in 0..<1_250 {
                let plaintext = (0..<(1 + index % 300)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let metadata: [UInt8] = [UInt8(index & 0xff)]
                let frame = [UInt8](try sender.protect(plaintext, metadata: metadata))
                XCTAssertEqual([UInt8](try receiver.unprotect(frame, metadata: metadata).plaintext), plaintext)
                let mutated = SFrameTestTransforms.mutate(frame, using: &generator)
                XCTAssertNotEqual(mutated, frame)
                do {
                    _ = try receiver.unprotect(mutated, metadata: metadata)
                    XCTFail("\(suite): a mutated frame decrypted")
                } catch let error as SFrameError {
                    kinds[error.kind, default: 0] += 1
                }
            }
            XCTAssertEqual(kinds.values.reduce(0, +), 1_250, "\(suite)")
        }
    }

    /// The replay window: an authentic frame accepted once is refused the second time
    /// (`replay`), as is one older than the 64 before the newest; frames reordered within the
    /// window are accepted once each; a forged frame is `authentication`, never `replay`.
    func testReplayWindow() throws {
        let key = SFrameKeyMaterial(suiteForTests: .aes128GcmSha256_128)
        let sender = SFrameSender(counterStart: .clock)
        sender.setKey(key)
        let receiver = SFrameReceiver()
        receiver.addKey(key)
        let frames = try (0..<100).map { [UInt8](try sender.protect([UInt8](repeating: UInt8($0), count: 20))) }
        XCTAssertGreaterThan(try SFrameHeader.decode(frames[0]).0.counter, 1_700_000_000_000_000, "the counter starts at the clock (µs)")
        func kind(_ frame: [UInt8]) -> String {
            do { _ = try receiver.unprotect(frame); return "ok" } catch { return (error as? SFrameError)?.kind ?? "\(error)" }
        }
        XCTAssertEqual(kind(frames[0]), "ok")
        XCTAssertEqual(kind(frames[0]), "replay")
        XCTAssertEqual(kind(frames[5]), "ok")
        XCTAssertEqual(kind(frames[3]), "ok", "reordered within the window")
        XCTAssertEqual(kind(frames[3]), "replay")
        XCTAssertEqual(kind(frames[99]), "ok")
        XCTAssertEqual(kind(frames[10]), "replay", "older than the window")
        var forged = frames[98]
        forged[forged.count - 1] ^= 1
        XCTAssertEqual(kind(forged), "authentication")
        XCTAssertEqual(kind(frames[98]), "ok", "a forged copy does not burn the counter")
        usleep(1_000)  // a restart takes longer than the 100 µs those 100 frames could have used
        let restarted = SFrameSender(counterStart: .clock)
        restarted.setKey(key)
        XCTAssertEqual(kind([UInt8](try restarted.protect([1, 2, 3]))), "ok", "a restarted sender starts above its previous counters")
    }

    // MARK: Keys

    /// Rotation as deployments do it: the receiver gets the new key first, then the sender
    /// switches, then the receiver forgets the old key. Not a frame is lost; the wire's key id
    /// goes from 1 to 2.
    func testKeyRotationMidStreamLosesNoFrame() throws {
        let pipeline = try TestPipeline("""
            audiotestsrc is-live=true num-buffers=150 samplesperbuffer=960 ! opusenc ! tee name=t
            t. ! queue ! fakesink name=reference
            t. ! queue ! \(Self.sframe("send", name: "sender")) ! identity name=wire ! rtpopuspay ! rtpopusdepay ! \
            \(Self.sframe("receive", name: "receiver")) ! fakesink name=out
            """)
        let reference = pipeline.collect("reference"), wire = pipeline.collect("wire"), output = pipeline.collect("out")
        let receiverMessages = SignalRecorder(pipeline.element("receiver"), signal: "message")
        let senderMessages = SignalRecorder(pipeline.element("sender"), signal: "message")
        pipeline.play()
        XCTAssertTrue(waitUntil { wire.count >= 50 })
        postMessage(pipeline.element("receiver"), "add-key, key-id=(guint64)2, key=(string)\(Self.key2)")
        XCTAssertEqual(try waitForMessage(receiverMessages, named: "sframe-keys").string("key-ids"), "1,2")
        postMessage(pipeline.element("sender"), "set-key, key-id=(guint64)2, key=(string)\(Self.key2)")
        XCTAssertEqual(try waitForMessage(senderMessages, named: "sframe-keys").integer("key-id"), 2)
        let switched = wire.count
        XCTAssertTrue(waitUntil { wire.count >= switched + 20 })
        postMessage(pipeline.element("receiver"), "remove-key, key-id=(guint64)1")
        XCTAssertTrue(pipeline.waitFor(timeout: 20) { $0.kind == .endOfStream || $0.kind == .error }?.kind == .endOfStream, "\(pipeline.messages)")
        XCTAssertGreaterThanOrEqual(reference.count, 150)
        XCTAssertEqual(output.buffers.map(\.bytes), reference.buffers.map(\.bytes), "every frame decrypted, in order")
        let keyIDs = try wire.buffers.map { try SFrameHeader.decode($0.bytes.dropFirst(1)).0.keyID }
        let firstNew = try XCTUnwrap(keyIDs.firstIndex(of: 2))
        XCTAssertTrue(keyIDs[..<firstNew].allSatisfy { $0 == 1 } && keyIDs[firstNew...].allSatisfy { $0 == 2 }, "\(keyIDs)")
        XCTAssertGreaterThan(firstNew, 40)
        XCTAssertFalse(receiverMessages.values.contains { $0.hasPrefix("sframe-error") }, "\(receiverMessages.values)")
    }

    /// The sender switches to a key the receiver does not have: those frames fail (`keyID`) and
    /// video stops; when the key arrives the receiver asks for a key frame (upstream to the
    /// encoder through the payloaders here, RTCP PLI/FIR in webrtcbin) and decoding resumes at it,
    /// never at a delta frame whose reference it missed.
    func testKeyArrivingLateBringsAKeyFrame() throws {
        let pipeline = try TestPipeline("""
            videotestsrc is-live=true num-buffers=240 pattern=ball ! video/x-raw,width=160,height=120,framerate=30/1 ! \
            vp8enc deadline=1 keyframe-max-dist=1000 ! \(Self.sframe("send", name: "sender")) ! rtpvp8pay ! rtpvp8depay ! \
            \(Self.sframe("receive", name: "receiver")) ! fakesink name=out
            """)
        let output = pipeline.collect("out")
        let receiverMessages = SignalRecorder(pipeline.element("receiver"), signal: "message")
        pipeline.play()
        XCTAssertTrue(waitUntil { output.count >= 30 })
        postMessage(pipeline.element("sender"), "set-key, key-id=(guint64)2, key=(string)\(Self.key2)")
        XCTAssertTrue(waitUntil { receiverMessages.values.contains { $0.contains("kind=(string)keyID") } })
        usleep(500_000)
        let beforeKey = output.count
        postMessage(pipeline.element("receiver"), "add-key, key-id=(guint64)2, key=(string)\(Self.key2)")
        XCTAssertTrue(waitUntil { output.count > beforeKey + 10 }, "decoding did not resume")
        let resumed = output.buffers[beforeKey]
        XCTAssertFalse(resumed.isDelta, "the first frame after the gap must be a key frame")
        postMessage(pipeline.element("receiver"), "get-stats")
        let stats = try waitForMessage(receiverMessages, named: "sframe-stats")
        XCTAssertGreaterThanOrEqual(stats.integer("key-frame-requests") ?? 0, 1, "\(stats)")
        XCTAssertGreaterThan(stats.integer("keyID") ?? 0, 0, "\(stats)")
        XCTAssertEqual(stats.string("key-ids"), "1,2")
        pipeline.setState(GST_STATE_NULL)
    }

    /// Bad options and messages: a clear error that says what would be right; the stream goes on.
    func testBadKeysAreRefusedWithClearErrors() throws {
        let cases = [
            ("options=\"sframe,key=(string)0011\"", "at least 16"),
            ("options=\"sframe,key=(string)xyz\"", "hexadecimal"),
            ("options=\"sframe,key-id=(int)3\"", "without key="),
            ("options=\"sframe,keys=(string)nonsense\"", "key-id:hexadecimal-key pairs"),
        ]
        for (options, expected) in cases {
            let pipeline = try TestPipeline("\(Self.audio) ! rtpscripttransform side=receive worker=sframe \(options) ! fakesink")
            XCTAssertFalse(pipeline.runToEnd())
            XCTAssertTrue(pipeline.errors.contains { $0.text.contains(expected) }, "\(options): \(pipeline.errors.map(\.text))")
        }
        let badSuite = try TestPipeline("\(Self.audio) ! rtpscripttransform worker=\"sframe suite=AES_512\" ! fakesink")
        XCTAssertFalse(badSuite.runToEnd())
        XCTAssertTrue(badSuite.errors.contains { $0.text.contains("AES_128_GCM_SHA256_128") }, "\(badSuite.errors.map(\.text))")

        let refusedCodec = try TestPipeline("audiotestsrc num-buffers=5 ! mulawenc ! \(Self.sframe("send")) ! fakesink")
        XCTAssertFalse(refusedCodec.runToEnd(), "G.711 payloaders re-chunk frames: sframe refuses the caps")

        let pipeline = try TestPipeline("""
            audiotestsrc is-live=true num-buffers=60 ! opusenc ! \(Self.sframe("send", name: "sender")) ! rtpopuspay ! rtpopusdepay ! \
            \(Self.sframe("receive", name: "receiver")) ! fakesink name=out
            """)
        let output = pipeline.collect("out")
        pipeline.play()
        XCTAssertTrue(waitUntil { output.count >= 5 })
        postMessage(pipeline.element("sender"), "set-key, key-id=(guint64)2, key=(string)00")
        usleep(1_100_000)  // the element posts at most one transform warning a second
        postMessage(pipeline.element("sender"), "add-key, key-id=(guint64)2, key=(string)\(Self.key2)")
        XCTAssertTrue(pipeline.waitFor(timeout: 20) { $0.kind == .endOfStream || $0.kind == .error }?.kind == .endOfStream, "\(pipeline.messages)")
        XCTAssertGreaterThanOrEqual(output.count, 60)
        XCTAssertEqual(UInt64(output.count), pipeline.uint64("sender", "total-frames"), "bad messages lose no frame")
        let warnings = pipeline.warnings.map(\.text).joined(separator: "\n")
        XCTAssertTrue(warnings.contains("at least 16"), warnings)
        XCTAssertTrue(warnings.contains("add-key is for receivers"), warnings)
    }

    // MARK: Helpers

    private func waitUntil(timeout: Double = 10, _ condition: () -> Bool) -> Bool {
        let deadline = g_get_monotonic_time() + gint64(timeout * 1e6)
        while g_get_monotonic_time() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    private func waitForMessage(_ recorder: SignalRecorder, named name: String, timeout: Double = 10) throws -> TransformMessage {
        let before = recorder.values.count
        var found: String?
        _ = waitUntil(timeout: timeout) {
            found = recorder.values.dropFirst(before).last { $0.hasPrefix(name) } ?? recorder.values.last { $0.hasPrefix(name) }
            return found != nil
        }
        return try TransformMessage(parsing: try XCTUnwrap(found, "no \(name) message: \(recorder.values)"))
    }
}

func meanAbsoluteDifference(_ a: [UInt8], _ b: [UInt8]) -> Double {
    guard a.count == b.count, !a.isEmpty else { return .infinity }
    return Double(zip(a, b).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }) / Double(a.count)
}

extension SFrameKeyMaterial {
    init(suiteForTests suite: CipherSuite) {
        try! self.init(suite: suite, keyID: 5, baseKey: Array(0..<16))
    }
}

/// `mutate`: damages every frame but every `every`-th, as an attacker on the path would.
enum SFrameTestTransforms {
    private static let registered = Mutex(false)

    static func register() {
        guard registered.withLock({ let first = !$0; $0 = true; return first }) else { return }
        EncodedTransformRegistry.register(EncodedTransformDescriptor(name: "mutate", summary: "damages frames (tests)") { _, context in
            Mutate(seed: UInt64(context.options.integer("seed") ?? 1), every: context.options.integer("every") ?? 0)
        })
    }

    /// Flips bytes, truncates, extends or rewrites the SFrame header of `frame` (never a no-op).
    static func mutate(_ frame: [UInt8], keepingFirst clearCount: Int = 0, using generator: inout some RandomNumberGenerator) -> [UInt8] {
        var bytes = frame
        switch Int.random(in: 0..<4, using: &generator) {
        case 0:  // flip 1-3 bytes anywhere
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] ^= UInt8.random(in: 1...255, using: &generator)
            }
        case 1:  // truncate (never to nothing)
            bytes.removeLast(Int.random(in: 1...max(1, bytes.count - 1), using: &generator))
        case 2:  // extend
            bytes += (0..<Int.random(in: 1...32, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        default:  // rewrite the SFrame header's first byte (key id / counter lengths)
            bytes[clearCount] ^= UInt8.random(in: 1...255, using: &generator)
        }
        if bytes == frame { bytes[0] ^= 0x55 }
        return bytes
    }

    final class Mutate: EncodedFrameTransformer {
        private var generator: SplitMix64
        private let every: Int
        private var index = 0

        init(seed: UInt64, every: Int) {
            generator = SplitMix64(seed: seed)
            self.every = every
        }

        func transform(_ frame: EncodedFrame, controller: EncodedTransformController) throws {
            defer { index += 1 }
            if every == 0 || index % every != 0 {
                // Opus: byte 0 is the clear TOC, the SFrame header follows.
                frame.data = SFrameTestTransforms.mutate(frame.data, keepingFirst: 1, using: &generator)
            }
            try controller.enqueue(frame)
        }
    }
}
