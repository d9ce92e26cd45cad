import CGStreamer
import CGStreamerWebRTC
import InsertableStreams
import WebRTCLoopback
import XCTest

/// `rtpscripttransform` inside two `webrtcbin` peers of one process (VP8 or H.264 video and
/// Opus audio from `sender` to `receiver`), decoded pictures and sound checked against what
/// the test sources draw (SMPTE bars, a 440 Hz sine).
final class WebRTCLoopbackTests: XCTestCase {
    /// Starts a loopback, waits for media, and measures `seconds` after that warm-up.
    private func run(_ codec: VideoCodec, send: String?, receive: String?, seconds: Double = 3,
                     vp8Payloader: String = "rtpvp8pay") throws -> (LoopbackStatistics, WebRTCLoopback) {
        _ = ExampleEnvironment.ready
        var configuration = LoopbackConfiguration(videoCodec: codec, audio: true)
        configuration.setTransforms(send: send, receive: receive)
        configuration.vp8Payloader = vp8Payloader
        let loopback = try WebRTCLoopback(configuration)
        try loopback.start()
        _ = loopback.waitUntilConnected(timeout: 10)
        usleep(1_000_000)
        let warm = loopback.statistics()
        usleep(UInt32(seconds * 1e6))
        let measured = loopback.statistics() - warm
        return (measured, loopback)
    }

    func testNegateOnBothEndsDecodes() throws {
        for codec in [VideoCodec.vp8, .h264] {
            let (figures, loopback) = try run(codec, send: "rtpscripttransform worker=negate", receive: "rtpscripttransform worker=negate")
            defer { loopback.stop() }
            XCTAssertFalse(loopback.hasFailed, "\(codec): \(loopback.errors)")
            XCTAssertGreaterThan(figures.video.framesSent, 60, "\(codec)")
            XCTAssertGreaterThanOrEqual(figures.video.intactRatio, 0.9, "\(codec) video: \(figures.video)")
            XCTAssertGreaterThanOrEqual(figures.audio.intactRatio, 0.9, "\(codec) audio: \(figures.audio)")
            let sendTransform = try XCTUnwrap(loopback.element(named: "send_video_transform"))
            XCTAssertEqual(String(cString: g_type_name(swift_type_from_instance(sendTransform))), "GstRtpScriptTransform")
            XCTAssertEqual(uint64(loopback, "send_video_transform", "rejected-frames"), 0)
            XCTAssertEqual(uint64(loopback, "recv_video_transform", "failed-frames"), 0)
            XCTAssertGreaterThan(uint64(loopback, "recv_audio_transform", "written-frames"), 100)
        }
    }

    /// Without the receive transform the decoders get the negated bytes: nothing decodes to the
    /// source's pictures or sound, so the bytes on the wire really changed.
    func testWithoutTheReceiveTransformNothingDecodesCorrectly() throws {
        for codec in [VideoCodec.vp8, .h264] {
            let (figures, loopback) = try run(codec, send: "rtpscripttransform worker=negate", receive: nil, seconds: 2)
            defer { loopback.stop() }
            XCTAssertGreaterThan(figures.video.framesSent, 40, "\(codec)")
            XCTAssertEqual(figures.video.intactFrames, 0, "\(codec) video: \(figures.video)")
            XCTAssertLessThan(figures.audio.intactRatio, 0.1, "\(codec) audio: \(figures.audio)")
        }
    }

    /// `send-key-frame-request` on the receiver's transform: rtpsession sends RTCP PLI/FIR, the
    /// sender's transform sees the request, and a key frame reaches the receiver within a second.
    func testSendKeyFrameRequestBringsAKeyFrame() throws {
        for codec in [VideoCodec.vp8, .h264] {
            let (_, loopback) = try run(codec, send: "rtpscripttransform worker=negate", receive: "rtpscripttransform worker=negate", seconds: 0.5)
            defer { loopback.stop() }
            let before = loopback.statistics()
            let requestsBefore = uint64(loopback, "send_video_transform", "key-frame-requests")
            XCTAssertNotEqual(swift_signal_emit_by_name_returning_bool(try XCTUnwrap(loopback.element(named: "recv_video_transform")), "send-key-frame-request"), 0)
            let start = g_get_monotonic_time()
            var arrived = false
            while g_get_monotonic_time() - start < 3_000_000 {
                if loopback.statistics(statsTimeout: 0.2).video.keyFramesReceived > before.video.keyFramesReceived {
                    arrived = true
                    break
                }
                usleep(20_000)
            }
            let waited = Double(g_get_monotonic_time() - start) / 1e6
            print("key frame after send-key-frame-request (\(codec)): \(waited) s")
            XCTAssertTrue(arrived, "\(codec): no key frame reached the receiver")
            XCTAssertLessThan(waited, 1.0, "\(codec): the key frame took \(waited) s")
            XCTAssertGreaterThan(uint64(loopback, "send_video_transform", "key-frame-requests"), requestsBefore,
                                 "\(codec): the sender's transform saw no PLI/FIR")
            let after = loopback.statistics()
            XCTAssertGreaterThan(after.video.pliCount + after.video.firCount + after.video.keyFrameRequests,
                                 before.video.pliCount + before.video.firCount + before.video.keyFrameRequests, "\(codec)")
        }
    }

    func testMissingTransformElementThrows() {
        _ = ExampleEnvironment.ready
        var configuration = LoopbackConfiguration()
        configuration.sendVideoTransform = "no-such-element"
        XCTAssertThrowsError(try WebRTCLoopback(configuration))
    }

    /// `frameCryptorTransform` quotes the passphrase twice (options structure, gst-launch), so
    /// any text arrives intact; and a transform that cannot be built is reported without its
    /// options (they hold keys and passphrases).
    func testFrameCryptorTransformQuotesAnyPassphraseAndErrorsHideIt() throws {
        _ = ExampleEnvironment.ready
        let passphrase = #"a "quoted" \back\slash\, comma, semi;colon = equals 'single' ünïcödé"#
        var error: UnsafeMutablePointer<GError>?
        let element = try XCTUnwrap(gst_parse_launch(LoopbackConfiguration.frameCryptorTransform(passphrase: passphrase, keyIndex: 3), &error))
        defer { gst_object_unref(element) }
        XCTAssertNil(error.map { String(cString: $0.pointee.message) })
        var value = GValue()
        g_value_init(&value, swift_type_structure())
        defer { g_value_unset(&value) }
        g_object_get_property(UnsafeMutableRawPointer(element).assumingMemoryBound(to: GObject.self), "options", &value)
        let options = try XCTUnwrap(gst_value_get_structure(&value))
        XCTAssertEqual(gst_structure_get_string(options, "passphrase").map { String(cString: $0) }, passphrase)
        var keyIndex: gint = -1
        XCTAssertNotEqual(gst_structure_get_int(options, "key-index", &keyIndex), 0)
        XCTAssertEqual(keyIndex, 3)

        var configuration = LoopbackConfiguration()
        configuration.sendVideoTransform = LoopbackConfiguration.frameCryptorTransform(passphrase: "SECRET-PASSPHRASE") + " ! no-such-element"
        XCTAssertThrowsError(try WebRTCLoopback(configuration)) { error in
            XCTAssertFalse("\(error)".contains("SECRET"), "\(error)")
            XCTAssertTrue("\(error)".contains("options=<hidden>"), "\(error)")
        }
    }

    // MARK: SFrame end-to-end encryption

    /// SFrame on both peers: everything decodes, nothing is refused, and the receivers decrypted
    /// every frame the senders encrypted.
    func testSFrameOnBothEndsDecodes() throws {
        for codec in [VideoCodec.vp8, .h264] {
            let transform = LoopbackConfiguration.sframeTransform()
            let (figures, loopback) = try run(codec, send: transform, receive: transform)
            defer { loopback.stop() }
            XCTAssertFalse(loopback.hasFailed, "\(codec): \(loopback.errors)")
            XCTAssertGreaterThan(figures.video.framesSent, 60, "\(codec)")
            XCTAssertGreaterThanOrEqual(figures.video.intactRatio, 0.9, "\(codec) video: \(figures.video)")
            XCTAssertGreaterThanOrEqual(figures.audio.intactRatio, 0.9, "\(codec) audio: \(figures.audio)")
            let stats = sframeStatistics(loopback)
            XCTAssertGreaterThan(stats["recv_video_transform"]?.integer("decrypted") ?? 0, 60, "\(codec): \(stats)")
            XCTAssertGreaterThan(stats["recv_audio_transform"]?.integer("decrypted") ?? 0, 100, "\(codec): \(stats)")
            XCTAssertFalse(loopback.transformMessages.contains { $0.contains("sframe-error") }, "\(codec): \(loopback.transformMessages)")
        }
    }

    /// SFrame in the browsers' VP8 layout (`clear=web`: 10/3 bytes clear) through webrtcbin with
    /// `rtpvp8e2eepay` in place of `rtpvp8pay` (which refuses such frames): everything decodes.
    func testSFrameWebLayoutThroughTheE2EEPayloaderDecodes() throws {
        let transform = LoopbackConfiguration.sframeTransform(clear: "web")
        let (figures, loopback) = try run(.vp8, send: transform, receive: transform, vp8Payloader: "rtpvp8e2eepay")
        defer { loopback.stop() }
        XCTAssertFalse(loopback.hasFailed, "\(loopback.errors)")
        let payloader = try XCTUnwrap(loopback.element(named: "send_video_payloader"))
        XCTAssertEqual(String(cString: g_type_name(swift_type_from_instance(payloader))), "GstRtpVP8E2EEPay")
        XCTAssertGreaterThan(figures.video.framesSent, 60)
        XCTAssertGreaterThanOrEqual(figures.video.intactRatio, 0.9, "video: \(figures.video)")
        XCTAssertGreaterThanOrEqual(figures.audio.intactRatio, 0.9, "audio: \(figures.audio)")
        let stats = sframeStatistics(loopback)
        XCTAssertGreaterThan(stats["recv_video_transform"]?.integer("decrypted") ?? 0, 60, "\(stats)")
        XCTAssertFalse(loopback.transformMessages.contains { $0.contains("sframe-error") }, "\(loopback.transformMessages)")
    }

    /// The receiver has another key: nothing decodes, both receivers count `authentication`
    /// failures and report them on the bus, and the call stays up.
    func testSFrameWrongKeyDecodesNothing() throws {
        let (figures, loopback) = try run(.vp8, send: LoopbackConfiguration.sframeTransform(),
                                          receive: LoopbackConfiguration.sframeTransform(key: "0f0e0d0c0b0a09080706050403020100"), seconds: 2)
        defer { loopback.stop() }
        XCTAssertFalse(loopback.hasFailed, "\(loopback.errors)")
        XCTAssertGreaterThan(figures.video.framesReceived, 40, "frames still arrive: \(figures.video)")
        XCTAssertEqual(figures.video.framesDecoded, 0, "\(figures.video)")
        XCTAssertEqual(figures.audio.framesDecoded, 0, "\(figures.audio)")
        let stats = sframeStatistics(loopback)
        for name in ["recv_video_transform", "recv_audio_transform"] {
            XCTAssertGreaterThan(stats[name]?.integer("authentication") ?? 0, 40, "\(name): \(stats)")
            XCTAssertEqual(stats[name]?.integer("decrypted"), 0, "\(name): \(stats)")
            XCTAssertTrue(loopback.transformMessages.contains { $0.hasPrefix("\(name): sframe-error") && $0.contains("kind=(string)authentication") },
                          "\(name): \(loopback.transformMessages)")
        }
    }

    /// Key rotation mid-call as a key server does it (receivers get the new key, then senders
    /// switch, then the old key is removed): decoding never stops and no frame is refused.
    func testSFrameKeyRotationDecodesContinuously() throws {
        let transform = LoopbackConfiguration.sframeTransform()
        let (_, loopback) = try run(.vp8, send: transform, receive: transform, seconds: 0.5)
        defer { loopback.stop() }
        let before = loopback.statistics()
        let newKey = "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
        for name in ["recv_video_transform", "recv_audio_transform"] {
            XCTAssertTrue(loopback.postMessage(to: name, "add-key, key-id=(guint64)2, key=(string)\(newKey)"))
        }
        usleep(200_000)
        for name in ["send_video_transform", "send_audio_transform"] {
            XCTAssertTrue(loopback.postMessage(to: name, "set-key, key-id=(guint64)2, key=(string)\(newKey)"))
        }
        usleep(1_000_000)
        for name in ["recv_video_transform", "recv_audio_transform"] {
            XCTAssertTrue(loopback.postMessage(to: name, "remove-key, key-id=(guint64)1"))
        }
        usleep(1_500_000)
        let figures = loopback.statistics() - before
        XCTAssertFalse(loopback.hasFailed, "\(loopback.errors)")
        XCTAssertGreaterThan(figures.video.framesSent, 60)
        XCTAssertGreaterThanOrEqual(figures.video.intactRatio, 0.9, "video: \(figures.video)")
        XCTAssertGreaterThanOrEqual(figures.audio.intactRatio, 0.9, "audio: \(figures.audio)")
        let stats = sframeStatistics(loopback)
        XCTAssertEqual(stats["send_video_transform"]?.integer("key-id"), 2, "\(stats)")
        XCTAssertEqual(stats["recv_video_transform"]?.string("key-ids"), "2", "\(stats)")
        XCTAssertFalse(loopback.transformMessages.contains { $0.contains("sframe-error") }, "\(loopback.transformMessages)")
    }

    /// The `sframe-stats` reply of each transform, by element name.
    private func sframeStatistics(_ loopback: WebRTCLoopback) -> [String: TransformMessage] {
        let names = ["send_video_transform", "send_audio_transform", "recv_video_transform", "recv_audio_transform"]
        let before = loopback.transformMessages.count
        for name in names { loopback.postMessage(to: name, "get-stats") }
        var replies: [String: TransformMessage] = [:]
        let deadline = g_get_monotonic_time() + 3_000_000
        while replies.count < names.count && g_get_monotonic_time() < deadline {
            usleep(20_000)
            for line in loopback.transformMessages.dropFirst(before) {
                guard let separator = line.range(of: ": sframe-stats") else { continue }
                replies[String(line[..<separator.lowerBound])] = try? TransformMessage(parsing: "sframe-stats" + line[separator.upperBound...])
            }
        }
        return replies
    }

    private func uint64(_ loopback: WebRTCLoopback, _ element: String, _ property: String) -> UInt64 {
        guard let pointer = loopback.element(named: element) else { return 0 }
        var value = GValue()
        g_value_init(&value, swift_type_uint64())
        g_object_get_property(UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: GObject.self), property, &value)
        defer { g_value_unset(&value) }
        return UInt64(g_value_get_uint64(&value))
    }
}
