import CGStreamer
import InsertableStreams
import XCTest

/// grayscale, invert, blur, gain and pip against their documented behaviour.
final class MoreTransformTests: XCTestCase {
    func testGrayscaleMatchesLumaFormulaRGBA() throws {
        try assertPerPixel(worker: "grayscale", format: "RGBA") { r, g, b in
            let y = 0.299 * r + 0.587 * g + 0.114 * b
            return (y, y, y)
        }
    }

    /// YUV: luma untouched, every chroma sample exactly 128.
    func testGrayscaleI420KeepsLumaAndNeutralisesChroma() throws {
        let (expected, output) = try run(worker: "grayscale", format: "I420")
        let layout = VideoLayout(caps: output[0].caps)
        for (reference, gray) in zip(expected, output) {
            for row in 0..<layout.height {
                let start = row * layout.strides[0]
                XCTAssertTrue(gray.bytes[start..<start + layout.width] == reference.bytes[start..<start + layout.width], "luma row \(row) changed")
            }
            for plane in 1...2 {
                for row in 0..<(layout.height + 1) / 2 {
                    let start = layout.offsets[plane] + row * layout.strides[plane]
                    XCTAssertTrue(gray.bytes[start..<start + (layout.width + 1) / 2].allSatisfy { $0 == 128 })
                }
            }
        }
    }

    func testInvertIsExact() throws {
        try assertPerPixel(worker: "invert", format: "BGRA") { r, g, b in (255 - r, 255 - g, 255 - b) }
        let (expected, output) = try run(worker: "invert", format: "Y444")
        let layout = VideoLayout(caps: output[0].caps)
        for (reference, inverted) in zip(expected, output) {
            for plane in 0..<3 {
                for row in 0..<layout.height {
                    let start = layout.offsets[plane] + row * layout.strides[plane]
                    for x in 0..<layout.width { XCTAssertEqual(inverted.bytes[start + x], 255 - reference.bytes[start + x]) }
                }
            }
        }
    }

    /// Three box passes horizontally then three vertically, radius r, edges clamped, each pass
    /// rounded to nearest: computed here naively and compared with the transform.
    func testBlurMatchesThreePassBoxBlur() throws {
        let radius = 3
        let (expected, output) = try run(worker: "blur radius=\(radius)", format: "RGBA", width: 40, height: 24, frames: 1)
        let layout = VideoLayout(caps: output[0].caps)
        let (w, h) = (layout.width, layout.height)
        func boxPass(_ values: [Int], count: Int, at: (Int) -> Int) -> [Int] {
            (0..<count).map { i in
                var sum = 0
                for k in -radius...radius { sum += values[at(min(max(i + k, 0), count - 1))] }
                let d = 2 * radius + 1
                return (sum + d / 2) / d
            }
        }
        for channel in 0..<3 {
            var image = [Int](repeating: 0, count: w * h)
            for y in 0..<h {
                for x in 0..<w { image[y * w + x] = Int(expected[0].bytes[y * layout.strides[0] + x * 4 + channel]) }
            }
            for _ in 0..<3 {
                for y in 0..<h { let row = boxPass(image, count: w) { y * w + $0 }; for x in 0..<w { image[y * w + x] = row[x] } }
            }
            for _ in 0..<3 {
                for x in 0..<w { let column = boxPass(image, count: h) { $0 * w + x }; for y in 0..<h { image[y * w + x] = column[y] } }
            }
            var worst = 0
            for y in 0..<h {
                for x in 0..<w {
                    worst = max(worst, abs(Int(output[0].bytes[y * layout.strides[0] + x * 4 + channel]) - image[y * w + x]))
                }
            }
            XCTAssertLessThanOrEqual(worst, 1, "channel \(channel)")
        }
        for y in 0..<h {
            for x in 0..<w {
                let alpha = y * layout.strides[0] + x * 4 + 3
                XCTAssertEqual(output[0].bytes[alpha], expected[0].bytes[alpha])
            }
        }
    }

    func gainOutput(caps: String) throws -> (expected: [CapturedBuffer], output: [CapturedBuffer]) {
        let source = "audiotestsrc num-buffers=4 samplesperbuffer=400 freq=300 ! audioconvert ! \(caps)"
        let reference = try TestPipeline("\(source) ! fakesink name=out")
        let expected = reference.collect("out")
        XCTAssertTrue(reference.runToEnd())
        let pipeline = try TestPipeline("""
            \(source) ! trackprocessor worker="gain factor=0.5" pipe-to=gen sync=false max-buffer-size=8 \
            trackgenerator name=gen kind=audio ! fakesink name=out
            """)
        let output = pipeline.collect("out")
        XCTAssertTrue(pipeline.runToEnd(), "\(pipeline.messages)")
        XCTAssertEqual(output.count, 4)
        XCTAssertEqual(expected.buffers.map(\.pts), output.buffers.map(\.pts))
        return (expected.buffers, output.buffers)
    }

    /// S16 interleaved: rounded product.
    func testGainScalesS16Interleaved() throws {
        let (expected, output) = try gainOutput(caps: "audio/x-raw,format=S16LE,channels=2,rate=8000")
        XCTAssertTrue(output[0].caps.contains("layout=(string)interleaved"), output[0].caps)
        for (reference, result) in zip(expected, output) {
            let a: [Int16] = reference.bytes.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
            let b: [Int16] = result.bytes.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
            XCTAssertEqual(a.count, b.count)
            for index in 0..<a.count {
                let want = Double(a[index]) * 0.5
                XCTAssertLessThanOrEqual(abs(Double(b[index]) - want), 0.5)
            }
        }
    }

    /// F32 planar (non-interleaved, with GstAudioMeta): exact product.
    func testGainScalesF32Planar() throws {
        let (expected, output) = try gainOutput(caps: "audio/x-raw,format=F32LE,channels=2,rate=8000,layout=non-interleaved")
        XCTAssertTrue(output[0].caps.contains("non-interleaved"), output[0].caps)
        for (reference, result) in zip(expected, output) {
            let a: [Float] = reference.bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            let b: [Float] = result.bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            XCTAssertTrue(a.map { $0 * 0.5 } == b, "F32 samples are multiplied exactly")
        }
    }

    /// The presenter (white) appears scaled into the bottom-right corner of the map (black).
    func testPictureInPictureCombinesTwoProcessors() throws {
        let pipeline = try TestPipeline("""
            videotestsrc num-buffers=20 pattern=black ! video/x-raw,format=RGBA,width=64,height=48,framerate=30/1 ! \
              trackprocessor name=map worker="pip source=presenter position=bottom-right scale=0.25 margin=4" pipe-to=out \
            videotestsrc num-buffers=20 pattern=white ! video/x-raw,format=RGBA,width=32,height=24,framerate=30/1 ! trackprocessor name=presenter \
            trackgenerator name=out ! fakesink name=sink
            """)
        let output = pipeline.collect("sink")
        XCTAssertTrue(pipeline.runToEnd(), "\(pipeline.messages)")
        XCTAssertEqual(output.count, 20)
        let last = output.buffers.last!
        let layout = VideoLayout(caps: last.caps)
        func pixel(_ x: Int, _ y: Int) -> UInt8 { last.bytes[y * layout.strides[0] + x * 4] }
        // inset: 16x12 at x 44..<60, y 32..<44
        XCTAssertEqual(pixel(50, 38), 255, "inside the inset")
        XCTAssertEqual(pixel(44, 32), 255)
        XCTAssertEqual(pixel(59, 43), 255)
        XCTAssertEqual(pixel(43, 38), 0, "left of the inset")
        XCTAssertEqual(pixel(60, 38), 0, "margin on the right")
        XCTAssertEqual(pixel(50, 44), 0, "margin below")
        XCTAssertEqual(pixel(10, 10), 0)
    }

    func testPictureInPictureNeedsSource() throws {
        let pipeline = try TestPipeline("videotestsrc num-buffers=1 ! trackprocessor worker=pip pipe-to=g trackgenerator name=g ! fakesink")
        pipeline.play()
        let error = pipeline.waitFor(timeout: 5) { $0.kind == .error }
        XCTAssertTrue(error?.text.contains("pip source=presenter") ?? false, error?.text ?? "no error")
    }
}
