import XCTest

/// Pixel-exact checks of the built-in video transforms: each output frame is compared with the
/// same frame from a reference pipeline that has no transform.
final class PixelTransformTests: XCTestCase {
    func assertMirrored(format: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let (expected, output) = try run(worker: "mirror", format: format)
        let layout = VideoLayout(caps: output[0].caps)
        XCTAssertEqual(layout.format, format, file: file, line: line)
        // (horizontal shift, vertical shift, bytes per sample) per plane
        let planes: [(Int, Int, Int)] = switch format {
        case "I420": [(0, 0, 1), (1, 1, 1), (1, 1, 1)]
        case "NV12": [(0, 0, 1), (1, 1, 2)]
        case "Y444": [(0, 0, 1), (0, 0, 1), (0, 0, 1)]
        default: [(0, 0, 4)]
        }
        var compared = 0
        for (reference, mirrored) in zip(expected, output) {
            for (index, plane) in planes.enumerated() {
                let samples = (layout.width + (1 << plane.0) - 1) >> plane.0
                let rows = (layout.height + (1 << plane.1) - 1) >> plane.1
                for row in 0..<rows {
                    let base = layout.offsets[index] + row * layout.strides[index]
                    for x in 0..<samples {
                        for byte in 0..<plane.2 {
                            let got = mirrored.bytes[base + x * plane.2 + byte]
                            let want = reference.bytes[base + (samples - 1 - x) * plane.2 + byte]
                            if got != want {
                                XCTFail("\(format) plane \(index) row \(row) sample \(x): \(got) != \(want)", file: file, line: line)
                                return
                            }
                            compared += 1
                        }
                    }
                }
            }
        }
        XCTAssertGreaterThan(compared, 3 * 66 * 50, file: file, line: line)
    }

    func testMirrorIsExactRGBA() throws { try assertMirrored(format: "RGBA") }

    /// Behind a tee the processor's buffers are shared with the other branch: the transform must
    /// write into new memory (never into the shared buffer), and still mirror exactly.
    func testSharedBuffersAreNeverWrittenInPlace() throws {
        for (worker, format) in [("mirror", "RGBA"), ("mirror", "I420"), ("sepia", "RGBA"), ("invert", "NV12")] {
            let pipeline = try TestPipeline("""
                videotestsrc num-buffers=4 pattern=smpte ! video/x-raw,format=\(format),width=34,height=20 ! tee name=t \
                t. ! queue ! fakesink name=reference sync=false \
                t. ! queue ! trackprocessor worker=\(worker) pipe-to=gen sync=false max-buffer-size=8 \
                trackgenerator name=gen ! fakesink name=out
                """)
            let reference = pipeline.collect("reference")
            let output = pipeline.collect("out")
            XCTAssertTrue(pipeline.runToEnd(), "\(pipeline.messages)")
            let clean = try TestPipeline("videotestsrc num-buffers=4 pattern=smpte ! video/x-raw,format=\(format),width=34,height=20 ! fakesink name=out")
            let expected = clean.collect("out")
            XCTAssertTrue(clean.runToEnd())
            XCTAssertEqual(output.count, 4, worker)
            let layout = VideoLayout(caps: expected.buffers[0].caps)
            for (seen, original) in zip(reference.buffers, expected.buffers) {
                for row in 0..<layout.height {
                    let start = row * layout.strides[0]
                    XCTAssertTrue(seen.bytes[start..<start + layout.width] == original.bytes[start..<start + layout.width],
                                  "\(worker) \(format): the other branch of the tee saw modified pixels in row \(row)")
                }
            }
            for (result, original) in zip(output.buffers, expected.buffers) {
                XCTAssertFalse(result.bytes[0..<layout.width] == original.bytes[0..<layout.width], "\(worker) changed nothing")
                if worker == "mirror" && format == "RGBA" {
                    for x in 0..<layout.width {
                        XCTAssertTrue(result.bytes[x * 4..<x * 4 + 4] == original.bytes[(layout.width - 1 - x) * 4..<(layout.width - x) * 4])
                    }
                }
            }
        }
    }
    func testMirrorIsExactI420() throws { try assertMirrored(format: "I420") }
    func testMirrorIsExactNV12() throws { try assertMirrored(format: "NV12") }
    func testMirrorIsExactY444() throws { try assertMirrored(format: "Y444") }

    static func sepia(_ r: Double, _ g: Double, _ b: Double) -> (Double, Double, Double) {
        (min(255, 0.393 * r + 0.769 * g + 0.189 * b),
         min(255, 0.349 * r + 0.686 * g + 0.168 * b),
         min(255, 0.272 * r + 0.534 * g + 0.131 * b))
    }

    func testSepiaMatchesFormulaRGBA() throws { try assertPerPixel(worker: "sepia", format: "RGBA", Self.sepia) }
    func testSepiaMatchesFormulaBGRx() throws { try assertPerPixel(worker: "sepia", format: "BGRx", Self.sepia) }

    /// The MDN chain: sepia then mirror, i.e. pixel (x) = sepia(reference (w-1-x)).
    func testSepiaThenMirrorChain() throws {
        let (expected, output) = try run(worker: "sepia ! mirror", format: "RGBA")
        let layout = VideoLayout(caps: output[0].caps)
        var worst = 0.0
        for (reference, result) in zip(expected, output) {
            for row in 0..<layout.height {
                for x in 0..<layout.width {
                    let p = row * layout.strides[0] + x * 4
                    let q = row * layout.strides[0] + (layout.width - 1 - x) * 4
                    let want = Self.sepia(Double(reference.bytes[q]), Double(reference.bytes[q + 1]), Double(reference.bytes[q + 2]))
                    worst = max(worst, abs(Double(result.bytes[p]) - want.0), abs(Double(result.bytes[p + 1]) - want.1),
                                abs(Double(result.bytes[p + 2]) - want.2))
                }
            }
        }
        XCTAssertLessThanOrEqual(worst, 1.0)
    }

    /// A transform restricted to RGB makes the processor refuse YUV caps, so `videoconvert`
    /// before it converts: the output is RGB even though the source offered I420 first.
    func testSepiaNegotiatesRGBThroughVideoconvert() throws {
        let pipeline = try TestPipeline("""
            videotestsrc num-buffers=2 ! video/x-raw,format=I420,width=32,height=16 ! videoconvert ! \
            trackprocessor worker=sepia pipe-to=gen sync=false max-buffer-size=4 trackgenerator name=gen ! fakesink name=out
            """)
        let output = pipeline.collect("out")
        XCTAssertTrue(pipeline.runToEnd(), "\(pipeline.messages)")
        XCTAssertEqual(output.count, 2)
        let format = VideoLayout(caps: output.buffers[0].caps).format
        XCTAssertTrue(["RGBA", "BGRA", "RGBx", "BGRx"].contains(format), "negotiated \(format)")
    }
}

/// Helpers shared by the transform test suites.
extension XCTestCase {
    /// (reference frames, transformed frames) for `frames` frames of `pattern` in `format`.
    func run(worker: String, format: String, width: Int = 66, height: Int = 50, frames: Int = 3,
             pattern: String = "smpte") throws -> ([CapturedBuffer], [CapturedBuffer]) {
        let caps = "video/x-raw,format=\(format),width=\(width),height=\(height),framerate=30/1"
        let reference = try TestPipeline("videotestsrc num-buffers=\(frames) pattern=\(pattern) ! \(caps) ! fakesink name=out")
        let expected = reference.collect("out")
        XCTAssertTrue(reference.runToEnd(), "reference pipeline did not reach EOS: \(reference.messages)")
        let pipeline = try TestPipeline("""
            videotestsrc num-buffers=\(frames) pattern=\(pattern) ! \(caps) ! \
            trackprocessor name=proc worker="\(worker)" pipe-to=gen sync=false max-buffer-size=16 \
            trackgenerator name=gen ! fakesink name=out
            """)
        let output = pipeline.collect("out")
        XCTAssertTrue(pipeline.runToEnd(), "pipeline did not reach EOS: \(pipeline.messages)")
        XCTAssertEqual(output.count, frames, "every frame should come out (ring large enough, no drops)")
        XCTAssertEqual(expected.count, frames)
        return (expected.buffers, output.buffers)
    }

    /// RGB offsets of a 4-byte pixel format.
    func rgbOffsets(_ format: String) -> (Int, Int, Int) {
        format.hasPrefix("B") ? (2, 1, 0) : (0, 1, 2)
    }

    func assertPerPixel(worker: String, format: String, pattern: String = "smpte",
                        _ formula: (Double, Double, Double) -> (Double, Double, Double),
                        file: StaticString = #filePath, line: UInt = #line) throws {
        let (expected, output) = try run(worker: worker, format: format, pattern: pattern)
        let layout = VideoLayout(caps: output[0].caps)
        let (ro, go, bo) = rgbOffsets(format)
        var worst = 0.0
        for (reference, result) in zip(expected, output) {
            for row in 0..<layout.height {
                for x in 0..<layout.width {
                    let p = row * layout.strides[0] + x * 4
                    let (r, g, b) = (Double(reference.bytes[p + ro]), Double(reference.bytes[p + go]), Double(reference.bytes[p + bo]))
                    let want = formula(r, g, b)
                    worst = max(worst, abs(Double(result.bytes[p + ro]) - want.0), abs(Double(result.bytes[p + go]) - want.1),
                                abs(Double(result.bytes[p + bo]) - want.2))
                    if format == "RGBA" || format == "BGRA" {
                        XCTAssertEqual(result.bytes[p + 3], reference.bytes[p + 3], "alpha must be untouched", file: file, line: line)
                    }
                }
            }
        }
        XCTAssertLessThanOrEqual(worst, 1.0, "largest deviation from the documented formula", file: file, line: line)
    }

}
