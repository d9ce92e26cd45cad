import CGStreamer
import GStreamerBridge
import Handoff
import XCTest

/// A test-only element made of the bridge's pad support alone: a four-item queue between a sink
/// pad (chain/event functions) and a src pad driven by a pad task, keeping events in order with
/// buffers, handling flushes and state changes.
final class SwiftQueueElement: ElementSubclass, @unchecked Sendable {
    override class var typeName: String { "GstSwiftTestQueue" }
    override class var metadata: ElementMetadata {
        ElementMetadata(longName: "Swift test queue", classification: "Generic", description: "tests pad tasks", author: "tests")
    }
    override class var padTemplates: [PadTemplateSpec] {
        [PadTemplateSpec(name: "sink", direction: GST_PAD_SINK, caps: "ANY"),
         PadTemplateSpec(name: "src", direction: GST_PAD_SRC, caps: "ANY")]
    }

    private enum Item: @unchecked Sendable {
        case buffer(UnsafeMutablePointer<GstBuffer>), event(UnsafeMutablePointer<GstEvent>)
    }
    private let queue = HandoffQueue<Item, Never>(policy: .block, capacity: 4, handlers: .init(discardData: { item in
        switch item {
        case .buffer(let buffer): gst_buffer_unref(buffer)
        case .event(let event): gst_event_unref(event)
        }
    }))
    private var sinkPad: UnsafeMutablePointer<GstPad>!
    private var srcPad: UnsafeMutablePointer<GstPad>!
    private var worker: StreamWorker!

    required init(element: UnsafeMutablePointer<GstElement>) {
        super.init(element: element)
        sinkPad = addPad(fromTemplate: "sink")
        srcPad = addPad(fromTemplate: "src")
        queue.setFlushing(true)
        worker = StreamWorker(pad: srcPad) { [unowned self] in self.pushNext() }
    }

    override func chain(pad: UnsafeMutablePointer<GstPad>, buffer: UnsafeMutablePointer<GstBuffer>) -> GstFlowReturn {
        queue.push(.buffer(buffer)) == .accepted ? GST_FLOW_OK : swift_flow_flushing()
    }

    override func event(pad: UnsafeMutablePointer<GstPad>, event: UnsafeMutablePointer<GstEvent>) -> Bool {
        guard pad == sinkPad else { return super.event(pad: pad, event: event) }
        switch swift_event_type(event) {
        case GST_EVENT_FLUSH_START:
            queue.setFlushing(true)
            let forwarded = gst_pad_push_event(srcPad, event) != 0
            worker.pause()
            return forwarded
        case GST_EVENT_FLUSH_STOP:
            queue.setFlushing(false)
            let forwarded = gst_pad_push_event(srcPad, event) != 0
            worker.start()
            return forwarded
        default:
            if swift_event_is_serialized(event) != 0 { return queue.push(.event(event)) == .accepted }
            return super.event(pad: pad, event: event)
        }
    }

    /// The pad task's body: one item per call; pauses itself when flushing, at EOS or on error.
    private func pushNext() {
        switch queue.next() {
        case .flushing, .shutdown, .endOfStream:
            worker.pause()
        case .data(.buffer(let buffer)):
            if gst_pad_push(srcPad, buffer) != GST_FLOW_OK { worker.pause() }
        case .data(.event(let event)):
            let isEndOfStream = swift_event_type(event) == GST_EVENT_EOS
            _ = gst_pad_push_event(srcPad, event)
            if isEndOfStream { worker.pause() }
        }
    }

    override func changeState(_ transition: GstStateChange) -> GstStateChangeReturn {
        if transition == GST_STATE_CHANGE_PAUSED_TO_READY {
            queue.setFlushing(true)
            worker.stop()
        }
        let result = super.changeState(transition)
        if transition == GST_STATE_CHANGE_READY_TO_PAUSED, result != GST_STATE_CHANGE_FAILURE {
            queue.setFlushing(false)
            worker.start()
        }
        return result
    }
}

final class PadTaskElementTests: XCTestCase {
    static let registered: Void = {
        _ = TestEnvironment.ready
        registerElement(SwiftQueueElement.self, name: "swifttestqueue", plugin: nil)
    }()

    override func setUp() { _ = Self.registered }

    func testBuffersAndEventsFlowInOrder() throws {
        let reference = try TestPipeline("videotestsrc num-buffers=30 pattern=ball ! video/x-raw,width=32,height=24 ! fakesink name=out")
        let expected = reference.collect("out")
        XCTAssertTrue(reference.runToEnd())
        let pipeline = try TestPipeline("videotestsrc num-buffers=30 pattern=ball ! video/x-raw,width=32,height=24 ! swifttestqueue ! fakesink name=out")
        let output = pipeline.collect("out")
        XCTAssertTrue(pipeline.runToEnd(), "\(pipeline.messages)")
        XCTAssertEqual(output.count, 30)
        XCTAssertEqual(output.buffers.map(\.pts), expected.buffers.map(\.pts))
        XCTAssertTrue(zip(output.buffers, expected.buffers).allSatisfy { $0.bytes == $1.bytes })
        XCTAssertTrue(output.buffers[0].caps.contains("width=(int)32"), "CAPS travelled through the queue before the data")
    }

    func testFlushingSeekAndStateCycles() throws {
        let pipeline = try TestPipeline("videotestsrc is-live=true ! video/x-raw,width=32,height=24,framerate=200/1 ! swifttestqueue ! fakesink name=out")
        let output = pipeline.collect("out")
        for _ in 0..<30 {
            XCTAssertNotEqual(pipeline.setState(GST_STATE_PLAYING, timeout: 5), GST_STATE_CHANGE_FAILURE)
            g_usleep(10_000)
            XCTAssertEqual(pipeline.setState(GST_STATE_NULL, timeout: 5), GST_STATE_CHANGE_SUCCESS)
        }
        XCTAssertGreaterThan(output.count, 0)

        let seekable = try TestPipeline("videotestsrc num-buffers=600 ! video/x-raw,width=32,height=24,framerate=30/1 ! swifttestqueue ! fakesink name=out sync=false")
        let seen = seekable.collect("out")
        seekable.setState(GST_STATE_PAUSED)
        XCTAssertNotEqual(gst_element_seek_simple(seekable.pipeline, GST_FORMAT_TIME,
                                                  GstSeekFlags(rawValue: GST_SEEK_FLAG_FLUSH.rawValue), 19 * 1_000_000_000), 0)
        XCTAssertTrue(seekable.runToEnd(), "\(seekable.messages)")
        XCTAssertGreaterThanOrEqual(seen.buffers.last?.pts ?? 0, 19 * 1_000_000_000)
    }
}
