import CGStreamer
import InsertableStreams
import XCTest

/// `pipe-to` names a channel: processor and generator meet by name whatever the order in which
/// they are created, started and torn down, in one pipeline or two.
final class ChannelTests: XCTestCase {
    override func setUp() { _ = TestEnvironment.ready }

    private let live = "videotestsrc is-live=true ! video/x-raw,format=RGBA,width=32,height=24,framerate=100/1"

    func testProcessorCreatedAndPlayingBeforeTheGeneratorExists() throws {
        let producer = try TestPipeline("\(live) ! trackprocessor name=proc worker=mirror pipe-to=late max-buffer-size=2")
        producer.play()
        XCTAssertTrue(waitUntil { producer.uint64("proc", "total-frames") >= 5 }, "frames flow with no generator yet")
        let consumer = try TestPipeline("trackgenerator name=late ! fakesink name=out")
        let output = consumer.collect("out")
        consumer.play()
        XCTAssertTrue(waitUntil { output.count >= 10 }, "the generator created later receives frames: \(consumer.messages)")
        producer.setState(GST_STATE_NULL)
        consumer.setState(GST_STATE_NULL)
        XCTAssertTrue(consumer.errors.isEmpty, "\(consumer.errors)")
        XCTAssertTrue(producer.errors.isEmpty, "\(producer.errors)")
    }

    func testGeneratorTornDownFirstThenBack() throws {
        let producer = try TestPipeline("\(live) ! trackprocessor name=proc pipe-to=back max-buffer-size=2")
        let consumer = try TestPipeline("trackgenerator name=back ! fakesink name=out")
        let output = consumer.collect("out")
        consumer.play()
        producer.play()
        XCTAssertTrue(waitUntil { output.count >= 5 })
        XCTAssertEqual(consumer.setState(GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS, "the generator stops while a writer may be waiting")
        let before = producer.uint64("proc", "total-frames")
        XCTAssertTrue(waitUntil { producer.uint64("proc", "total-frames") >= before + 10 }, "the processor keeps running without its generator")
        let seen = output.count
        consumer.play()
        XCTAssertTrue(waitUntil { output.count >= seen + 5 }, "frames flow again into the restarted generator")
        XCTAssertEqual(producer.setState(GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS)
        XCTAssertEqual(consumer.setState(GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS)
    }

    func testProcessorTornDownFirstThenBack() throws {
        let consumer = try TestPipeline("trackgenerator name=again ! fakesink name=out")
        let output = consumer.collect("out")
        consumer.play()
        for round in 1...3 {
            let producer = try TestPipeline("\(live) ! trackprocessor pipe-to=again max-buffer-size=2")
            let seen = output.count
            producer.play()
            XCTAssertTrue(waitUntil { output.count >= seen + 5 }, "round \(round)")
            XCTAssertEqual(producer.setState(GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS)
        }
        XCTAssertEqual(consumer.setState(GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS)
        XCTAssertTrue(consumer.errors.isEmpty, "\(consumer.errors)")
    }

    /// Elements created generator-first and processor-first in one pipeline, then the pipeline
    /// set to NULL and PLAYING again: the channel is rejoined every time.
    func testOnePipelineEitherOrderAndRestarts() throws {
        for description in [
            "trackgenerator name=g1 ! fakesink name=out \(live) ! trackprocessor worker=invert pipe-to=g1",
            "\(live) ! trackprocessor worker=invert pipe-to=g1 trackgenerator name=g1 ! fakesink name=out",
        ] {
            let pipeline = try TestPipeline(description)
            let output = pipeline.collect("out")
            for _ in 0..<3 {
                let seen = output.count
                pipeline.play()
                XCTAssertTrue(waitUntil { output.count >= seen + 5 }, description)
                XCTAssertEqual(pipeline.setState(GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS)
            }
            XCTAssertTrue(pipeline.errors.isEmpty, "\(pipeline.errors)")
        }
    }

    /// A generator whose downstream ended (EOS from the sink) does not leave its writer waiting.
    func testWriterDoesNotWaitForAGeneratorWhoseDownstreamEnded() throws {
        let pipeline = try TestPipeline("""
            \(live) ! trackprocessor name=proc pipe-to=short max-buffer-size=2 \
            trackgenerator name=short ! identity eos-after=3 ! fakesink
            """)
        pipeline.play()
        XCTAssertTrue(waitUntil { pipeline.uint64("proc", "total-frames") >= 30 }, "the processor keeps taking frames")
        XCTAssertEqual(pipeline.setState(GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS)
    }
}
