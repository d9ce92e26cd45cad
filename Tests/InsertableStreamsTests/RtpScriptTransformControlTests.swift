import CGStreamer
import InsertableStreams
import Synchronization
import XCTest

/// `rtpscripttransform`'s runtime communication (post-message / message), key frame signals and
/// requests, bad input, and state handling.
final class RtpScriptTransformControlTests: XCTestCase {
    override func setUp() { _ = TestEnvironment.ready }

    private static let liveVP8 = "videotestsrc is-live=true ! video/x-raw,width=160,height=120,framerate=30/1 ! vp8enc deadline=1 keyframe-max-dist=100000"

    // MARK: messages

    func testMessagesRoundTripBothWays() throws {
        let pipeline = try TestPipeline("\(Self.liveVP8) ! rtpscripttransform name=t worker=\"negate ! echo\" options=\"options,name=echo-test\" ! fakesink")
        let received = SignalRecorder(pipeline.element("t"), signal: "message")
        pipeline.play()
        XCTAssertTrue(waitUntil(5) { pipeline.uint64("t", "total-frames") > 0 })

        postMessage(pipeline.element("t"), "ping, value=(int)7, key=(buffer)0a0b0c")
        let answer = pipeline.waitFor(timeout: 5) { $0.kind == .element && $0.structure.hasPrefix("pong") }
        let structure = try XCTUnwrap(answer?.structure)
        XCTAssertTrue(structure.contains("value=(int)7"), structure)
        XCTAssertTrue(structure.contains("key=(buffer)0a0b0c"), structure)
        XCTAssertTrue(structure.contains("side=(string)send"), structure)
        XCTAssertTrue(structure.contains("options-name=(string)echo-test"), structure)
        XCTAssertEqual(answer?.source, "t")
        XCTAssertEqual(received.values.filter { $0.hasPrefix("pong") }.count, 1, "the message signal fired too: \(received.values)")
        let delivered = EncodedTestTransforms.messages.withLock { $0["echo-test"] ?? [] }
        XCTAssertEqual(delivered.first?.integer("value"), 7)
        XCTAssertEqual(delivered.first?.bytes("key"), [0x0a, 0x0b, 0x0c])
    }

    func testPostMessageWhenStoppedWarns() throws {
        let pipeline = try TestPipeline("\(Self.liveVP8) ! rtpscripttransform name=t worker=echo ! fakesink")
        postMessage(pipeline.element("t"), "ping")
        pipeline.drainBus()
        XCTAssertTrue(pipeline.warnings.contains { $0.text.contains("post-message: the transform is not running, message ping dropped") }, "\(pipeline.messages)")
    }

    /// An application posting faster than the worker handles messages: the lane holds 256, the
    /// rest are refused with a warning naming the message (not its fields), nothing accepted is
    /// lost, and frames flow again once the worker is free.
    func testMessageFloodIsBoundedAndSaysSo() throws {
        let pipeline = try TestPipeline("\(Self.liveVP8) ! rtpscripttransform name=t worker=echo options=\"options,name=flood\" ! fakesink")
        pipeline.play()
        XCTAssertTrue(waitUntil(5) { pipeline.uint64("t", "total-frames") > 0 })
        let element = pipeline.element("t")
        postMessage(element, "hold")
        XCTAssertTrue(waitUntil(5) { EncodedTestTransforms.messages.withLock { $0["flood"]?.last?.name == "hold" } }, "the worker holds")
        for index in 0..<300 { postMessage(element, "ping, n=(int)\(index), key=(buffer)0a0b0c") }
        pipeline.drainBus()
        let refusals = pipeline.warnings.filter { $0.text.contains("post-message: 256 messages already wait for the transform, message ping dropped") }
        XCTAssertEqual(refusals.count, 44, "\(pipeline.warnings.map(\.text))")
        XCTAssertFalse(pipeline.warnings.contains { $0.text.contains("0a0b0c") || $0.debug.contains("0a0b0c") }, "fields are not quoted")
        let framesWhileHeld = pipeline.uint64("t", "total-frames")
        EncodedTestTransforms.gate.signal()
        XCTAssertTrue(waitUntil(10) { (EncodedTestTransforms.messages.withLock { $0["flood"] ?? [] }).filter { $0.name == "ping" }.count == 256 })
        let pings = EncodedTestTransforms.messages.withLock { $0["flood"] ?? [] }.filter { $0.name == "ping" }.compactMap { $0.integer("n") }
        XCTAssertEqual(pings, Array(0..<256), "the accepted messages, in order, each once")
        XCTAssertTrue(waitUntil(5) { pipeline.uint64("t", "total-frames") > framesWhileHeld + 5 }, "frames flow again")
        postMessage(element, "ping, n=(int)1000")
        XCTAssertNotNil(pipeline.waitFor(timeout: 5) { $0.kind == .element && $0.structure.contains("n=(int)1000") }, "room again")
    }

    // MARK: key frames

    func testGenerateKeyFrameYieldsAKeyFrame() throws {
        let pipeline = try TestPipeline("\(Self.liveVP8) ! rtpscripttransform name=t worker=echo options=\"options,name=gen\" ! fakesink name=out")
        let output = pipeline.collect("out")
        pipeline.play()
        XCTAssertTrue(waitUntil(5) { output.count >= 10 })
        let before = output.count
        XCTAssertEqual(output.buffers.filter { !$0.isDelta }.count, 1, "one key frame at the start only")

        XCTAssertTrue(emitBool(pipeline.element("t"), "generate-key-frame", nil))
        let generated = pipeline.waitFor(timeout: 2) { $0.kind == .element && $0.structure.hasPrefix("key-frame-generated") }
        XCTAssertNotNil(generated, "\(pipeline.messages)")
        XCTAssertTrue(waitUntil(2) { output.buffers.dropFirst(before).contains { !$0.isDelta } })

        // From the transform itself: the completion runs when the key frame reaches it.
        let keyFrames = output.buffers.filter { !$0.isDelta }.count
        postMessage(pipeline.element("t"), "generate")
        let answer = pipeline.waitFor(timeout: 2) { $0.kind == .element && $0.structure.hasPrefix("generated") }
        XCTAssertNotNil(answer, "\(pipeline.messages)")
        XCTAssertTrue(waitUntil(2) { output.buffers.filter { !$0.isDelta }.count > keyFrames })
        let keyTimestamp = output.buffers.last { !$0.isDelta }?.pts.map { Int64($0 / 1000) }
        XCTAssertTrue(answer?.structure.contains("timestamp=(int)\(keyTimestamp ?? -2)") ?? false, "\(answer?.structure ?? "") vs \(keyTimestamp ?? -2)")
    }

    func testKeyFrameSignalsOnTheWrongSideFailClearly() throws {
        let send = try TestPipeline("\(Self.liveVP8) ! rtpscripttransform name=t rid=hi worker=echo ! fakesink")
        send.play()
        XCTAssertTrue(waitUntil(5) { send.uint64("t", "total-frames") > 0 })
        XCTAssertFalse(emitBool(send.element("t"), "send-key-frame-request"))
        XCTAssertFalse(emitBool(send.element("t"), "generate-key-frame", "no spaces allowed"))
        XCTAssertFalse(emitBool(send.element("t"), "generate-key-frame", "lo"))
        XCTAssertTrue(emitBool(send.element("t"), "generate-key-frame", "hi"))
        send.drainBus()
        let sendWarnings = send.warnings.map(\.text)
        XCTAssertTrue(sendWarnings.contains { $0.hasPrefix("send-key-frame-request failed: InvalidStateError: sendKeyFrameRequest is only possible on the receive side") }, "\(sendWarnings)")
        XCTAssertTrue(sendWarnings.contains { $0.contains("TypeError: rid \"no spaces allowed\" is malformed") }, "\(sendWarnings)")
        XCTAssertTrue(sendWarnings.contains { $0.contains("NotFoundError: no layer has rid \"lo\"") }, "\(sendWarnings)")

        let receive = try TestPipeline("\(Self.liveVP8) ! rtpvp8pay ! rtpvp8depay ! rtpscripttransform name=t worker=echo ! fakesink")
        receive.play()
        XCTAssertTrue(waitUntil(5) { receive.uint64("t", "total-frames") > 0 })
        XCTAssertFalse(emitBool(receive.element("t"), "generate-key-frame", nil))
        XCTAssertTrue(emitBool(receive.element("t"), "send-key-frame-request"))
        receive.drainBus()
        XCTAssertTrue(receive.warnings.contains { $0.text.hasPrefix("generate-key-frame failed: InvalidStateError: generateKeyFrame is only possible on the send side") }, "\(receive.warnings)")

        let audio = try TestPipeline("audiotestsrc is-live=true ! opusenc ! rtpscripttransform name=t ! fakesink")
        audio.play()
        XCTAssertTrue(waitUntil(5) { audio.uint64("t", "total-frames") > 0 })
        XCTAssertFalse(emitBool(audio.element("t"), "generate-key-frame", nil))
        audio.drainBus()
        XCTAssertTrue(audio.warnings.contains { $0.text.contains("InvalidStateError: generateKeyFrame applies to video; this rtpscripttransform carries audio/opus") }, "\(audio.warnings)")

        let stopped = try TestPipeline("\(Self.liveVP8) ! rtpscripttransform name=t ! fakesink")
        XCTAssertFalse(emitBool(stopped.element("t"), "generate-key-frame", nil))
    }

    /// A PLI/FIR arrives as an upstream force-key-unit from downstream: the transform sees it
    /// and, unless it cancels it, the encoder makes a key frame.
    func testIncomingKeyFrameRequestsReachTheTransform() throws {
        for cancel in [false, true] {
            let name = "requests-\(cancel)"
            let pipeline = try TestPipeline("""
                \(Self.liveVP8) ! rtpscripttransform name=t worker=record options="options,name=\(name),cancel-key-frame-requests=\(cancel)" ! fakesink name=out
                """)
            let output = pipeline.collect("out")
            pipeline.play()
            XCTAssertTrue(waitUntil(5) { output.count >= 10 })
            let before = output.count
            XCTAssertNotEqual(gst_element_send_event(pipeline.element("out"),
                                                     gst_video_event_new_upstream_force_key_unit(swift_clock_time_none(), 0, 0)), 0)
            XCTAssertTrue(waitUntil(2) { pipeline.uint64("t", "key-frame-requests") == 1 })
            XCTAssertTrue(waitUntil(2) { EncodedTestTransforms.keyFrameRequests.withLock { $0[name] } == 1 })
            let arrived = waitUntil(cancel ? 1 : 2) { output.buffers.dropFirst(before).contains { !$0.isDelta } }
            XCTAssertEqual(arrived, !cancel, "cancel=\(cancel)")
        }
    }

    // MARK: bad input

    func testBadWorkerDescriptionsSayWhatIsWrong() throws {
        let cases = [
            ("nope", "Invalid worker \"nope\": unknown encoded transform 'nope' in worker \"nope\"; known encoded transforms: "),
            ("negate clear=maybe", "transform 'negate': clear=maybe is invalid; clear must be one of gstreamer, web, none (default gstreamer)"),
            ("negate speed=2", "transform 'negate' has no parameter 'speed'; its parameters are: clear"),
            ("negate ! ", "step 2 is empty"),
        ]
        for (worker, expected) in cases {
            let pipeline = try TestPipeline("\(Self.liveVP8) ! rtpscripttransform worker=\"\(worker)\" ! fakesink")
            XCTAssertEqual(pipeline.setState(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE, worker)
            pipeline.drainBus()
            XCTAssertTrue(pipeline.errors.contains { $0.text.contains(expected) }, "\(worker): \(pipeline.errors)")
        }
        XCTAssertThrowsError(try TestPipeline("fakesrc ! rtpscripttransform options=\"not a structure ,,\" ! fakesink"))
    }

    func testTransformThatCannotHandleTheCodecRefusesCaps() throws {
        let pipeline = try TestPipeline("\(Self.liveVP8) ! rtpscripttransform worker=opus-only ! fakesink")
        pipeline.play()
        let error = pipeline.waitFor(timeout: 5) { $0.kind == .error }
        XCTAssertNotNil(error)
        XCTAssertTrue(pipeline.errors.contains { $0.text.contains("not negotiated") || $0.debug.contains("not-negotiated") || $0.text.contains("cannot process video/VP8") },
                      "\(pipeline.errors)")
        let opus = try TestPipeline("audiotestsrc num-buffers=10 ! opusenc ! rtpscripttransform worker=opus-only ! fakesink")
        XCTAssertTrue(opus.runToEnd(), "\(opus.messages)")
    }

    func testTransformFailingToStartIsAnError() throws {
        let pipeline = try TestPipeline("\(Self.liveVP8) ! rtpscripttransform worker=failing-start ! fakesink")
        pipeline.play()
        XCTAssertNotNil(pipeline.waitFor(timeout: 5) { $0.kind == .error })
        XCTAssertTrue(pipeline.errors.contains { $0.text == "The worker transform failed to start: no key material" }, "\(pipeline.errors)")
    }

    func testReceiveSideNegateOfFramesThatWereNeverNegatedWarnsAndDrops() throws {
        let pipeline = try TestPipeline("""
            videotestsrc num-buffers=20 ! video/x-raw,width=160,height=120 ! openh264enc ! rtph264pay ! rtph264depay \
            ! rtpscripttransform name=t worker=negate ! fakesink name=out
            """)
        let output = pipeline.collect("out")
        XCTAssertTrue(pipeline.runToEnd(), "\(pipeline.messages)")
        XCTAssertGreaterThan(pipeline.uint64("t", "failed-frames"), 0)
        XCTAssertEqual(UInt64(output.count) + pipeline.uint64("t", "failed-frames"), pipeline.uint64("t", "total-frames"))
        XCTAssertTrue(pipeline.warnings.contains { $0.text.contains("rewritten part is not escaped") }, "\(pipeline.warnings)")
    }

    // MARK: state

    func testFlushingSeekAndStateCycles() throws {
        let live = try TestPipeline("\(Self.liveVP8) ! rtpscripttransform worker=negate ! rtpvp8pay ! rtpvp8depay ! rtpscripttransform worker=negate ! vp8dec ! fakesink name=out")
        let decoded = live.collect("out")
        for _ in 0..<20 {
            XCTAssertNotEqual(live.setState(GST_STATE_PLAYING, timeout: 5), GST_STATE_CHANGE_FAILURE)
            g_usleep(20_000)
            XCTAssertEqual(live.setState(GST_STATE_NULL, timeout: 5), GST_STATE_CHANGE_SUCCESS)
        }
        XCTAssertGreaterThan(decoded.count, 0)
        XCTAssertTrue(live.errors.isEmpty, "\(live.errors)")

        let seekable = try TestPipeline("""
            videotestsrc num-buffers=300 ! video/x-raw,width=160,height=120,framerate=30/1 ! vp8enc deadline=1 \
            ! rtpscripttransform worker=negate ! rtpscripttransform worker=negate side=receive ! vp8dec ! fakesink name=out sync=false
            """)
        let seen = seekable.collect("out")
        seekable.setState(GST_STATE_PAUSED)
        XCTAssertNotEqual(gst_element_seek_simple(seekable.pipeline, GST_FORMAT_TIME,
                                                  GstSeekFlags(rawValue: GST_SEEK_FLAG_FLUSH.rawValue), 8 * 1_000_000_000), 0)
        XCTAssertTrue(seekable.runToEnd(), "\(seekable.messages)")
        XCTAssertGreaterThanOrEqual(seen.buffers.last?.pts ?? 0, 9 * 1_000_000_000)
    }

    // MARK: helpers

}

/// `post-message` with a structure parsed from `text`.
func postMessage(_ element: UnsafeMutablePointer<GstElement>, _ text: String) {
    var arguments = [GValue](repeating: GValue(), count: 2)
    g_value_init(&arguments[0], swift_type_from_instance(element))
    g_value_set_object(&arguments[0], element)
    g_value_init(&arguments[1], swift_type_structure())
    g_value_take_boxed(&arguments[1], gst_structure_from_string(text, nil))
    g_signal_emitv(&arguments, g_signal_lookup("post-message", swift_type_from_instance(element)), 0, nil)
    for index in arguments.indices { g_value_unset(&arguments[index]) }
}

/// Emits a boolean action signal with string arguments (nil for NULL), one per parameter.
func emitBool(_ element: UnsafeMutablePointer<GstElement>, _ signal: String, _ strings: String?...) -> Bool {
    let type = swift_type_from_instance(element)
    let signalID = g_signal_lookup(signal, type)
    var query = GSignalQuery()
    g_signal_query(signalID, &query)
    precondition(Int(query.n_params) == strings.count, "\(signal) takes \(query.n_params) arguments, \(strings.count) given")
    var arguments = [GValue](repeating: GValue(), count: strings.count + 1)
    g_value_init(&arguments[0], type)
    g_value_set_object(&arguments[0], element)
    for (index, text) in strings.enumerated() {
        g_value_init(&arguments[index + 1], swift_type_string())
        g_value_set_string(&arguments[index + 1], text)
    }
    var result = GValue()
    g_value_init(&result, swift_type_boolean())
    g_signal_emitv(&arguments, signalID, 0, &result)
    defer {
        for index in arguments.indices { g_value_unset(&arguments[index]) }
        g_value_unset(&result)
    }
    return g_value_get_boolean(&result) != 0
}

/// Records the GstStructure argument of a signal such as `message`.
final class SignalRecorder: @unchecked Sendable {
    private let storage = Mutex<[String]>([])
    var values: [String] { storage.withLock { $0 } }

    init(_ element: UnsafeMutablePointer<GstElement>, signal: String) {
        let handler: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<GstStructure>?, UnsafeMutableRawPointer?) -> Void = { _, structure, data in
            guard let structure, let data, let text = gst_structure_to_string(structure) else { return }
            defer { g_free(text) }
            Unmanaged<SignalRecorder>.fromOpaque(data).takeUnretainedValue().storage.withLock { $0.append(String(cString: text)) }
        }
        g_signal_connect_data(element, signal, unsafeBitCast(handler, to: GCallback.self),
                              Unmanaged.passRetained(self).toOpaque(), { data, _ in
                                  if let data { Unmanaged<SignalRecorder>.fromOpaque(data).release() }
                              }, GConnectFlags(0))
    }
}
