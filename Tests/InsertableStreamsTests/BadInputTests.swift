import CGStreamer
import InsertableStreams
import XCTest

/// Every kind of bad input gets a clear GStreamer error or warning, and nothing crashes.
final class BadInputTests: XCTestCase {
    func firstError(_ description: String, timeout: Double = 10) throws -> BusMessage? {
        let pipeline = try TestPipeline(description)
        pipeline.play()
        return pipeline.waitFor(timeout: timeout) { $0.kind == .error || $0.kind == .endOfStream }
    }

    func testUnknownTransformListsKnownOnes() throws {
        let error = try firstError("videotestsrc num-buffers=1 ! trackprocessor worker=\"sepia ! nope\" pipe-to=g trackgenerator name=g ! fakesink")
        XCTAssertEqual(error?.kind, .error)
        let text = error?.text ?? ""
        XCTAssertTrue(text.contains("unknown transform 'nope'"), text)
        XCTAssertTrue(text.contains("known transforms:"), text)
        for name in ["identity", "mirror", "sepia"] { XCTAssertTrue(text.contains(name), "\(name) missing from: \(text)") }
    }

    func testBadTransformParameter() throws {
        let error = try firstError("videotestsrc num-buffers=1 ! trackprocessor worker=\"blur radius=huge\" pipe-to=g trackgenerator name=g ! fakesink")
        XCTAssertEqual(error?.kind, .error)
        XCTAssertTrue(error?.text.contains("radius=huge is invalid; radius must be an integer from 1 to 64") ?? false, error?.text ?? "no error")
    }

    func testUnknownTransformParameter() throws {
        let error = try firstError("videotestsrc num-buffers=1 ! trackprocessor worker=\"mirror axis=y\" pipe-to=g trackgenerator name=g ! fakesink")
        XCTAssertTrue(error?.text.contains("transform 'mirror' has no parameter 'axis'; it takes no parameters") ?? false, error?.text ?? "no error")
    }

    func testEmptyStepInWorker() throws {
        let error = try firstError("videotestsrc num-buffers=1 ! trackprocessor worker=\"sepia ! ! mirror\" pipe-to=g trackgenerator name=g ! fakesink")
        XCTAssertTrue(error?.text.contains("step 2 is empty") ?? false, error?.text ?? "no error")
    }

    func testPipeToNamingNothing() throws {
        let error = try firstError("videotestsrc num-buffers=1 ! trackprocessor worker=mirror pipe-to=nowhere trackgenerator name=gen ! fakesink")
        XCTAssertEqual(error?.kind, .error)
        let text = error?.text ?? ""
        XCTAssertTrue(text.contains("pipe-to=\"nowhere\" names no trackgenerator"), text)
        XCTAssertTrue(text.contains("gen"), "the error lists the generators that exist: \(text)")
    }

    /// GRAY8 is not in the processor's caps: linking is refused, and when an element in between
    /// hides it until run time, negotiation fails with not-negotiated.
    func testUnsupportedCapsAreRefused() throws {
        XCTAssertThrowsError(try TestPipeline("videotestsrc ! video/x-raw,format=GRAY8 ! trackprocessor")) { error in
            XCTAssertTrue("\(error)".contains("can't handle caps video/x-raw, format=(string)GRAY8"), "\(error)")
        }
        let pipeline = try TestPipeline("videotestsrc num-buffers=1 ! capsfilter name=cf ! trackprocessor pipe-to=g trackgenerator name=g ! fakesink")
        pipeline.set("cf", "caps", "video/x-raw,format=GRAY8")
        pipeline.play()
        let error = pipeline.waitFor(timeout: 10) { $0.kind == .error || $0.kind == .endOfStream }
        XCTAssertEqual(error?.kind, .error)
        XCTAssertTrue(error?.debug.contains("not-negotiated") ?? false, "\(String(describing: error))")
    }

    /// sepia only takes RGB: I420 forced by a capsfilter cannot link.
    func testTransformRestrictsCaps() throws {
        let error = try firstError("videotestsrc num-buffers=1 ! video/x-raw,format=I420 ! identity ! trackprocessor worker=sepia pipe-to=g trackgenerator name=g ! fakesink")
        XCTAssertEqual(error?.kind, .error)
        XCTAssertTrue(error?.debug.contains("not-negotiated") ?? false, "\(String(describing: error))")
    }

    /// A transform that throws on odd frames: those are dropped, a warning says why, the stream
    /// goes on to EOS, and the warnings are rate-limited.
    func testThrowingTransformDropsFrameAndWarns() throws {
        let pipeline = try TestPipeline("""
            videotestsrc num-buffers=20 ! video/x-raw,format=RGBA,width=16,height=16 ! \
            trackprocessor worker=fail-odd pipe-to=gen sync=false max-buffer-size=32 trackgenerator name=gen ! fakesink name=out
            """)
        let output = pipeline.collect("out")
        XCTAssertTrue(pipeline.runToEnd(), "\(pipeline.messages)")
        XCTAssertEqual(output.count, 10, "even frames pass, odd ones are dropped")
        let warnings = pipeline.warnings
        XCTAssertGreaterThanOrEqual(warnings.count, 1)
        XCTAssertLessThan(warnings.count, 10, "warnings are rate-limited")
        XCTAssertTrue(warnings[0].text.contains("test transform refuses odd frame #1"), warnings[0].text)
        XCTAssertTrue(warnings[0].text.contains("the frame was dropped and the stream continues"), warnings[0].text)
    }

    /// Video frames written to an audio generator: an error naming both kinds.
    func testWrongKindNamesBothKinds() throws {
        let error = try firstError("videotestsrc num-buffers=3 ! trackprocessor pipe-to=g sync=false trackgenerator name=g kind=audio ! fakesink")
        XCTAssertEqual(error?.kind, .error)
        let text = error?.text ?? ""
        XCTAssertTrue(text.contains("kind=audio") && text.contains("VideoFrame (video)"), text)
    }

    func testClosedFrameSaysSo() throws {
        _ = TestEnvironment.ready
        let frame = try VideoFrame(format: .i420, width: 8, height: 8, timestamp: 0)
        frame.close()
        XCTAssertThrowsError(try frame.withPlanes { _ in }) { error in
            XCTAssertEqual("\(error)", "InvalidStateError: VideoFrame is closed and can no longer be used")
        }
        XCTAssertThrowsError(try frame.clone())
        XCTAssertTrue(frame.isClosed)
    }
}
