import CGStreamer
import InsertableStreams
import XCTest

/// Behaviour of the two elements together: ring, timing, end of stream, muting, state changes.
final class ProcessorGeneratorTests: XCTestCase {
    override func tearDown() {
        // Every frame object must be gone once its pipeline is (no leaked GstBuffers).
        XCTAssertEqual(MediaFrameStatistics.liveFrames, 0, "frames still alive after the test")
    }

    /// A slow transform (40 ms per frame) behind a fast source: the ring of 2 drops the OLDEST
    /// frames, counts add up, the survivors keep their order, and the newest frame gets through.
    func testRingDropsOldestFramesUnderSlowTransform() throws {
        let frames = 40
        let pipeline = try TestPipeline("""
            videotestsrc num-buffers=\(frames) ! video/x-raw,format=RGBA,width=64,height=48,framerate=30/1 ! \
            trackprocessor name=proc worker="delay ms=40" pipe-to=gen sync=false max-buffer-size=2 \
            trackgenerator name=gen ! fakesink name=out
            """)
        let input = pipeline.collect("proc")
        let output = pipeline.collect("out")
        XCTAssertTrue(pipeline.runToEnd(timeout: 30), "\(pipeline.messages)")
        let total = pipeline.uint64("proc", "total-frames")
        let discarded = pipeline.uint64("proc", "discarded-frames")
        XCTAssertEqual(total, UInt64(frames))
        XCTAssertGreaterThan(discarded, 10, "a 40 ms transform cannot keep up with an unpaced source")
        XCTAssertEqual(UInt64(output.count) + discarded, total, "every frame is either delivered or counted as discarded")
        let timestamps = output.buffers.compactMap(\.pts)
        XCTAssertEqual(timestamps.count, output.count)
        XCTAssertEqual(timestamps, timestamps.sorted(), "surviving frames keep their order")
        XCTAssertEqual(Set(timestamps).count, timestamps.count, "no frame delivered twice")
        XCTAssertEqual(timestamps.last, input.buffers.last?.pts, "the newest frame is never the one dropped")
        XCTAssertEqual(pipeline.uint64("gen", "total-frames"), UInt64(output.count))
    }

    /// `leaky=no`: the same slow transform behind the same unpaced source, but upstream waits
    /// for room instead: every frame arrives, in order, none discarded, and no more frames are
    /// alive at once than the ring, the transform and the generator hold.
    func testLeakyNoMakesUpstreamWaitAndLosesNoFrame() throws {
        let frames = 40
        let pipeline = try TestPipeline("""
            videotestsrc num-buffers=\(frames) ! video/x-raw,format=RGBA,width=64,height=48,framerate=30/1 ! \
            trackprocessor name=proc worker="delay ms=10" pipe-to=gen sync=false max-buffer-size=2 leaky=no \
            trackgenerator name=gen ! fakesink name=out
            """)
        let input = pipeline.collect("proc")
        let output = pipeline.collect("out")
        pipeline.play()
        var peak = 0
        var end: BusMessage?
        let deadline = Date().addingTimeInterval(30)
        while end == nil && Date() < deadline {
            peak = max(peak, MediaFrameStatistics.liveFrames)
            end = pipeline.waitFor(timeout: 0.005) { $0.kind == .endOfStream || $0.kind == .error }
        }
        XCTAssertEqual(end?.kind, .endOfStream, "\(pipeline.messages)")
        XCTAssertEqual(pipeline.uint64("proc", "total-frames"), UInt64(frames))
        XCTAssertEqual(pipeline.uint64("proc", "discarded-frames"), 0, "a leaky=no ring drops nothing")
        XCTAssertEqual(output.buffers.compactMap(\.pts), input.buffers.compactMap(\.pts), "every frame, in order")
        XCTAssertEqual(output.count, frames)
        // ring (2) + the frame in the transform (1) + generator queue (1) + the one being pushed (1)
        XCTAssertLessThanOrEqual(peak, 5, "frames held at once")
    }

    /// `leaky=no` with upstream blocked in the full ring: a flushing seek ends the wait (no
    /// deadlock), and every frame from after the seek reaches the generator, in order, stamped
    /// with its running time (the generator is a live source); then the way to NULL while
    /// upstream waits returns at once.
    func testLeakyNoBlockedUpstreamFlushesAndStops() throws {
        let pipeline = try TestPipeline("""
            videotestsrc num-buffers=60 ! video/x-raw,format=RGBA,width=64,height=48,framerate=30/1 ! \
            trackprocessor name=proc worker="delay ms=20" pipe-to=gen sync=false leaky=no \
            trackgenerator name=gen ! fakesink name=out
            """)
        let input = pipeline.collect("proc")
        let output = pipeline.collect("out")
        pipeline.play()
        g_usleep(150_000)
        let seekPosition: UInt64 = 5_000_000_000
        let seeked = gst_element_seek_simple(pipeline.element("proc"), GST_FORMAT_TIME,
                                             GstSeekFlags(rawValue: GST_SEEK_FLAG_FLUSH.rawValue), gint64(seekPosition))
        XCTAssertNotEqual(seeked, 0)
        let countAtSeek = output.buffers.count
        let end = pipeline.waitFor(timeout: 20) { $0.kind == .endOfStream || $0.kind == .error }
        print("PROBE countAtSeek=\(countAtSeek) total=\(output.buffers.count) pts=\(output.buffers.compactMap(\.pts).map { $0 / 1_000_000 })")
        XCTAssertEqual(end?.kind, .endOfStream, "\(pipeline.messages)")
        let afterSeek = input.buffers.compactMap(\.pts).filter { $0 >= seekPosition }
        XCTAssertGreaterThan(afterSeek.count, 40, "the source went on from the seek position")
        // The frame render was waiting with when the flush came is refused (FLUSHING), not taken.
        XCTAssertLessThanOrEqual(UInt64(input.count) - pipeline.uint64("proc", "total-frames"), 1)
        let delivered = output.buffers.compactMap(\.pts)
        XCTAssertGreaterThanOrEqual(delivered.count, afterSeek.count)
        XCTAssertEqual(Array(delivered.suffix(afterSeek.count)), afterSeek.map { $0 - seekPosition },
                       "every frame from after the seek, in order, at its running time")
        XCTAssertLessThanOrEqual(pipeline.uint64("proc", "discarded-frames"), 1, "only what waited in the ring was flushed")

        // Again, stopped while upstream waits.
        let again = try TestPipeline("""
            videotestsrc ! video/x-raw,format=RGBA,width=64,height=48,framerate=30/1 ! \
            trackprocessor name=proc worker="delay ms=50" pipe-to=gen sync=false leaky=no \
            trackgenerator name=gen ! fakesink name=out
            """)
        again.play()
        g_usleep(200_000)
        let started = Date()
        again.setState(GST_STATE_NULL)
        XCTAssertLessThan(Date().timeIntervalSince(started), 2, "the way to NULL does not wait for the transform's backlog")
        XCTAssertEqual(again.uint64("proc", "discarded-frames") <= 2, true, "nothing but what waited in the ring was dropped")
    }

    /// Memory stays flat while the ring drops: frames alive never exceed ring + worker + queue.
    func testDroppingKeepsMemoryFlat() throws {
        let pipeline = try TestPipeline("""
            videotestsrc num-buffers=200 ! video/x-raw,format=I420,width=320,height=240 ! \
            trackprocessor name=proc worker="delay ms=5" pipe-to=gen sync=false max-buffer-size=3 \
            trackgenerator name=gen ! fakesink name=out
            """)
        pipeline.play()
        var peak = 0
        for _ in 0..<100 {
            peak = max(peak, MediaFrameStatistics.liveFrames)
            g_usleep(5_000)
        }
        XCTAssertNotNil(pipeline.waitFor(timeout: 30) { $0.kind == .endOfStream })
        // ring (3) + the frame in the transform (1) + generator queue (1) + the one being pushed (1)
        XCTAssertLessThanOrEqual(peak, 6, "frames held at once")
        XCTAssertGreaterThan(pipeline.uint64("proc", "discarded-frames"), 0)
    }

    /// In one pipeline, the generator's buffers carry exactly the processor's input timestamps.
    func testTimestampsSurviveProcessorToGenerator() throws {
        let pipeline = try TestPipeline("""
            videotestsrc num-buffers=10 ! video/x-raw,format=I420,width=32,height=24,framerate=25/1 ! \
            trackprocessor name=proc worker=mirror pipe-to=gen sync=false max-buffer-size=16 \
            trackgenerator name=gen ! fakesink name=out
            """)
        let input = pipeline.collect("proc")
        let output = pipeline.collect("out")
        XCTAssertTrue(pipeline.runToEnd(), "\(pipeline.messages)")
        XCTAssertEqual(output.count, 10)
        XCTAssertEqual(output.buffers.map(\.pts), input.buffers.map(\.pts))
        XCTAssertEqual(output.buffers.map(\.duration), input.buffers.map(\.duration))
        XCTAssertEqual(output.buffers[3].pts, 3 * 40_000_000)
    }

    /// Live source, processor and generator in one pipeline, into a synchronising sink: buffers
    /// arrive on time (the generator reports the latency of the worker hop), so none is late.
    func testLivePipelinePlaysSmoothlyIntoSyncingSink() throws {
        let pipeline = try TestPipeline("""
            videotestsrc is-live=true num-buffers=45 ! video/x-raw,format=RGBA,width=160,height=120,framerate=30/1 ! \
            trackprocessor worker="sepia ! mirror" pipe-to=gen trackgenerator name=gen ! \
            fakesink name=out sync=true max-lateness=5000000 qos=true
            """)
        let output = pipeline.collect("out")
        XCTAssertTrue(pipeline.runToEnd(timeout: 10), "\(pipeline.messages)")
        XCTAssertGreaterThanOrEqual(output.count, 43, "nearly every frame of a 30 fps live source gets through")
        // The sink drops buffers more than 5 ms late. Allow two on a loaded 2-core CI machine:
        // without the generator's latency report every frame would be late.
        let stats = pipeline.structure("out", "stats")
        let dropped = stats.split(separator: ",").first { $0.contains("dropped=") }
            .flatMap { UInt64($0.split(separator: ")").last ?? "") } ?? .max
        XCTAssertLessThanOrEqual(dropped, 2, "the syncing sink dropped late buffers: \(stats)")
    }

    /// Processor and generator in two pipelines sharing the system clock and base time.
    func testTwoPipelinesEndTogether() throws {
        let consumer = try TestPipeline("trackgenerator name=gen2 ! fakesink name=out")
        let producer = try TestPipeline("""
            videotestsrc num-buffers=15 ! video/x-raw,format=RGBA,width=32,height=32,framerate=30/1 ! \
            trackprocessor name=proc worker=mirror pipe-to=gen2 max-buffer-size=4
            """)
        let clock = gst_system_clock_obtain()!
        defer { gst_object_unref(clock) }
        gst_pipeline_use_clock(UnsafeMutableRawPointer(consumer.pipeline).assumingMemoryBound(to: GstPipeline.self), clock)
        gst_pipeline_use_clock(UnsafeMutableRawPointer(producer.pipeline).assumingMemoryBound(to: GstPipeline.self), clock)
        let output = consumer.collect("out")
        consumer.play()
        XCTAssertTrue(producer.runToEnd(), "\(producer.messages)")
        XCTAssertNotNil(consumer.waitFor(timeout: 5) { $0.kind == .endOfStream }, "closing the processor's stream ends the other pipeline's track")
        XCTAssertGreaterThanOrEqual(output.count, 10)
        let timestamps = output.buffers.compactMap(\.pts)
        XCTAssertEqual(timestamps, timestamps.sorted())
    }

    func testEndOfStreamReachesGeneratorDownstream() throws {
        let pipeline = try TestPipeline("""
            audiotestsrc num-buffers=5 ! audio/x-raw,format=F32LE,channels=2,rate=48000 ! \
            trackprocessor pipe-to=gen sync=false max-buffer-size=8 trackgenerator name=gen kind=audio ! fakesink name=out
            """)
        let output = pipeline.collect("out")
        XCTAssertTrue(pipeline.runToEnd())
        XCTAssertEqual(output.count, 5)
    }

    /// Muted generator: frames are written and dropped, nothing comes out, EOS still does.
    func testMutedGeneratorDropsFrames() throws {
        let pipeline = try TestPipeline("""
            videotestsrc num-buffers=12 ! video/x-raw,format=RGBA,width=16,height=16 ! \
            trackprocessor name=proc pipe-to=gen sync=false max-buffer-size=16 trackgenerator name=gen muted=true ! fakesink name=out
            """)
        let output = pipeline.collect("out")
        XCTAssertTrue(pipeline.runToEnd())
        XCTAssertEqual(output.count, 0)
        XCTAssertEqual(pipeline.uint64("gen", "total-frames"), 12)
        XCTAssertEqual(pipeline.uint64("gen", "discarded-frames"), 12)
    }

    /// 100 cycles PLAYING <-> NULL on a live pipeline: no deadlock, no leaked frame.
    func testHundredStateChangeCycles() throws {
        let pipeline = try TestPipeline("""
            videotestsrc is-live=true ! video/x-raw,format=RGBA,width=64,height=48,framerate=100/1 ! \
            trackprocessor name=proc worker="sepia ! mirror" pipe-to=gen trackgenerator name=gen ! fakesink name=out
            """)
        let output = pipeline.collect("out")
        for cycle in 0..<100 {
            XCTAssertNotEqual(pipeline.setState(GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE, "cycle \(cycle)")
            if cycle % 10 == 0 { g_usleep(50_000) }
            XCTAssertEqual(pipeline.setState(GST_STATE_NULL, timeout: 5), GST_STATE_CHANGE_SUCCESS, "cycle \(cycle)")
        }
        XCTAssertGreaterThan(output.count, 0, "frames flowed in the longer cycles")
        XCTAssertEqual(MediaFrameStatistics.liveFrames, 0)
        pipeline.drainBus()
        XCTAssertEqual(pipeline.errors.count, 0, "\(pipeline.errors)")
    }

    /// A flushing seek through the processor in the middle of the stream: the ring empties, the
    /// worker restarts, and the stream goes on to EOS. (The generator is a live source and cannot
    /// seek, so the seek is sent to the processor, which passes it upstream.) The processor syncs
    /// to the clock, so the seek lands mid-stream; the segment 9-10 s is the 30 frames left. The
    /// generator stamps frames with the pipeline's running time, which the flushing seek restarts:
    /// the frames after the seek begin again near 0, in order.
    func testFlushingSeekDoesNotDeadlock() throws {
        let pipeline = try TestPipeline("""
            videotestsrc num-buffers=300 ! video/x-raw,format=RGBA,width=64,height=48,framerate=30/1 ! \
            trackprocessor name=proc worker="delay ms=2" pipe-to=gen trackgenerator name=gen ! fakesink name=out
            """)
        let output = pipeline.collect("out")
        pipeline.play()
        g_usleep(300_000)
        let seeked = gst_element_seek(pipeline.element("proc"), 1.0, GST_FORMAT_TIME,
                                      GstSeekFlags(rawValue: GST_SEEK_FLAG_FLUSH.rawValue),
                                      GST_SEEK_TYPE_SET, 9 * 1_000_000_000, GST_SEEK_TYPE_SET, 10 * 1_000_000_000)
        XCTAssertNotEqual(seeked, 0)
        let countAtSeek = output.buffers.count
        XCTAssertGreaterThan(countAtSeek, 0, "frames flowed before the seek")
        XCTAssertLessThan(countAtSeek, 30, "the seek came in the middle of the stream")
        let end = pipeline.waitFor(timeout: 20) { $0.kind == .endOfStream || $0.kind == .error }
        XCTAssertEqual(end?.kind, .endOfStream, "\(pipeline.messages)")
        let afterSeek = output.buffers.dropFirst(countAtSeek).compactMap(\.pts)
        // 30 frames in 9-10 s; the 1-frame ring may drop one on a loaded machine.
        XCTAssertTrue((20...31).contains(afterSeek.count), "\(afterSeek.count) frames after the seek")
        XCTAssertEqual(afterSeek, afterSeek.sorted(), "in order")
        XCTAssertEqual(Set(afterSeek).count, afterSeek.count, "no frame twice")
        XCTAssertLessThan(afterSeek.first ?? .max, 300_000_000, "restamped with the running time the seek restarted")
        XCTAssertLessThan(afterSeek.last ?? .max, 1_500_000_000)
    }
}
