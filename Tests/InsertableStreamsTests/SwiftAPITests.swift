import CGStreamer
import InsertableStreams
import Synchronization
import XCTest

/// The Swift API: VideoFrame/AudioData, the readable as an AsyncSequence, pipeThrough/pipeTo
/// with an application transform, and writing frames to a generator.
final class SwiftAPITests: XCTestCase {
    override func setUp() { _ = TestEnvironment.ready }

    func testVideoFrameFieldsCopyToAndClone() throws {
        let frame = try VideoFrame(format: .i420, width: 6, height: 4, timestamp: 1_500, duration: 40_000)
        XCTAssertEqual(frame.codedWidth, 6)
        XCTAssertEqual(frame.visibleRect, PixelRect(x: 0, y: 0, width: 6, height: 4))
        XCTAssertEqual(frame.timestamp, 1_500)
        XCTAssertEqual(frame.duration, 40_000)
        XCTAssertEqual(frame.allocationSize(), 6 * 4 + 2 * (3 * 2))
        try frame.withMutablePlanes { planes in
            planes[0].data.storeBytes(of: 200, toByteOffset: 5, as: UInt8.self)
        }
        let clone = try frame.clone()
        frame.close()
        var bytes = [UInt8](repeating: 0, count: clone.allocationSize())
        let layout = try bytes.withUnsafeMutableBytes { try clone.copyTo($0) }
        XCTAssertEqual(layout, [PlaneLayout(offset: 0, stride: 6), PlaneLayout(offset: 24, stride: 3), PlaneLayout(offset: 30, stride: 3)])
        XCTAssertEqual(bytes[5], 200, "the clone shares the written pixels")
        XCTAssertEqual(bytes[0], 16, "new frames are black (Y=16)")
        XCTAssertEqual(bytes[24], 128)
        var small = [UInt8](repeating: 0, count: 10)
        XCTAssertThrowsError(try small.withUnsafeMutableBytes { try clone.copyTo($0) })
        clone.close()
    }

    func testAudioDataCopyToConvertsToFloat() throws {
        let audio = try AudioData(format: .s16, sampleRate: 48_000, numberOfFrames: 4, numberOfChannels: 2, timestamp: 0)
        XCTAssertEqual(audio.duration, 83)
        try audio.withMutablePlanes { planes in
            let samples = planes[0].bindMemory(to: Int16.self)
            for i in 0..<8 { samples[i] = Int16(i * 4096) }
        }
        var right = [Float](repeating: 0, count: 4)
        try right.withUnsafeMutableBytes { try audio.copyTo($0, planeIndex: 1, format: .f32Planar) }
        XCTAssertEqual(right, [0.125, 0.375, 0.625, 0.875])
        XCTAssertThrowsError(try right.withUnsafeMutableBytes { try audio.copyTo($0, planeIndex: 2, format: .f32Planar) })
        audio.close()
        XCTAssertThrowsError(try audio.withPlanes { _ in })
    }

    /// `for await frame in processor.readable`: a Swift task consumes frames itself.
    func testReadableIsAnAsyncSequence() async throws {
        let pipeline = try TestPipeline("""
            videotestsrc num-buffers=8 ! video/x-raw,format=NV12,width=32,height=16,framerate=30/1 ! \
            trackprocessor name=proc max-buffer-size=8 sync=false
            """)
        let processor = try TrackProcessor(element: pipeline.element("proc"))
        let consumer = Task { () -> [Int64] in
            var timestamps: [Int64] = []
            for await frame in processor.readable {
                if case .video(let video) = frame {
                    XCTAssertEqual(video.format, .nv12)
                    XCTAssertEqual(video.codedWidth, 32)
                    timestamps.append(video.timestamp)
                }
                frame.close()
            }
            return timestamps
        }
        pipeline.play()
        XCTAssertNotNil(pipeline.waitFor(timeout: 10) { $0.kind == .endOfStream })
        let timestamps = await consumer.value
        XCTAssertEqual(timestamps, (0..<8).map { Int64($0) * 1_000_000_000 / 30 / 1000 }, "PTS in microseconds")
    }

    /// An application transform, written like a web TransformStream, runs on the element's
    /// worker thread (not the streaming thread) and its output reaches the generator.
    func testPipeThroughApplicationTransform() throws {
        final class Observations: Sendable {
            let threads = Mutex<Set<String>>([])
            let calls = Mutex<[String]>([])
        }
        final class Brighten: FrameTransformer {
            let observations: Observations
            init(_ observations: Observations) { self.observations = observations }
            func start(controller: TransformController) throws { observations.calls.withLock { $0.append("start") } }
            func flush(controller: TransformController) throws { observations.calls.withLock { $0.append("flush") } }
            func transform(_ frame: MediaFrame, controller: TransformController) throws {
                let thread = currentThreadName()
                observations.threads.withLock { _ = $0.insert(thread) }
                if case .video(let video) = frame {
                    try video.withMutablePlanes { planes in
                        for row in 0..<planes[0].rows {
                            let pixels = (planes[0].data + row * planes[0].stride).assumingMemoryBound(to: UInt8.self)
                            for x in 0..<planes[0].rowBytes { pixels[x] = 77 }
                        }
                    }
                }
                try controller.enqueue(frame)
            }
        }
        let pipeline = try TestPipeline("""
            videotestsrc num-buffers=5 ! video/x-raw,format=I420,width=16,height=8 ! trackprocessor name=proc sync=false max-buffer-size=8 \
            trackgenerator name=gen ! fakesink name=out
            """)
        let processor = try TrackProcessor(element: pipeline.element("proc"))
        let generator = try TrackGenerator(element: pipeline.element("gen"))
        let observations = Observations()
        processor.readable.pipeThrough(Brighten(observations)).pipeTo(generator.writable)
        let output = pipeline.collect("out")
        XCTAssertTrue(pipeline.runToEnd(), "\(pipeline.messages)")
        XCTAssertEqual(output.count, 5)
        XCTAssertTrue(output.buffers.allSatisfy { $0.bytes[0..<(16 * 8)].allSatisfy { $0 == 77 } })
        XCTAssertEqual(observations.threads.withLock { $0 }, ["proc:worker"], "transforms run on the element's worker thread")
        XCTAssertEqual(observations.calls.withLock { $0 }, ["start", "flush"])
    }

    /// Swift code writes frames straight to a generator: caps follow the frames (renegotiating
    /// when the size changes), and closing the writable ends the track.
    func testWritingFramesRenegotiatesAndCloseEndsTrack() throws {
        let pipeline = try TestPipeline("trackgenerator name=gen ! fakesink name=out")
        let generator = try TrackGenerator(element: pipeline.element("gen"))
        let output = pipeline.collect("out")
        pipeline.play()
        for index in 0..<4 {
            let size = index < 2 ? (32, 16) : (64, 48)
            try generator.writable.write(.video(try VideoFrame(format: .rgba, width: size.0, height: size.1, timestamp: Int64(index) * 33_000)))
        }
        generator.writable.close()
        XCTAssertNotNil(pipeline.waitFor(timeout: 5) { $0.kind == .endOfStream }, "\(pipeline.messages)")
        XCTAssertEqual(output.count, 4)
        XCTAssertTrue(output.buffers[0].caps.contains("width=(int)32"), output.buffers[0].caps)
        XCTAssertTrue(output.buffers[3].caps.contains("width=(int)64"), output.buffers[3].caps)
        XCTAssertThrowsError(try generator.writable.write(.video(try VideoFrame(format: .rgba, width: 2, height: 2, timestamp: 0)))) {
            XCTAssertTrue("\($0)".contains("the track has ended"))
        }
    }

    func testAbortEndsTrackWithError() throws {
        let pipeline = try TestPipeline("trackgenerator name=gen ! fakesink")
        let generator = try TrackGenerator(element: pipeline.element("gen"))
        pipeline.play()
        generator.writable.abort(reason: "camera unplugged")
        let error = pipeline.waitFor(timeout: 5) { $0.kind == .error }
        XCTAssertEqual(error?.text, "The track's writer was aborted: camera unplugged")
    }

    func testWrongElementIsRejected() throws {
        let pipeline = try TestPipeline("identity ! fakesink name=sink")
        XCTAssertThrowsError(try TrackProcessor(element: pipeline.element("sink")))
    }
}

/// The kernel's name for the calling thread (GStreamer names task threads after the task).
func currentThreadName() -> String {
    guard let file = fopen("/proc/thread-self/comm", "r") else { return "" }
    defer { fclose(file) }
    var buffer = [CChar](repeating: 0, count: 64)
    guard fgets(&buffer, 64, file) != nil else { return "" }
    let bytes = buffer.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}
