import TransformModuleKit

@_cdecl("insertable_streams_module")
public func insertableStreamsModule(_ host: UnsafePointer<ISMHost>?) -> UnsafePointer<ISMModule>? {
    TransformModule.describe(name: "second-module", version: "0.1", transforms: [SwiftMirror.self, Passthrough.self, SwiftNegate.self, FailEvery.self, Halve.self], host: host)
}

/// Flips every plane horizontally, in place: the algorithm of the plugin's built-in `mirror`
/// (its in-place path), so that the benchmark compares the module boundary, not two algorithms.
final class SwiftMirror: ModuleTransform {
    static let name = "swiftmirror"
    static let summary = "Flips the picture horizontally (the built-in mirror, as a module)"
    static let frames = ModuleFrames.raw(formats: PixelFormat.allCases)

    init(parameters: TransformParameters) throws {}

    func transform(_ frame: ModuleFrame, controller: ModuleController) throws {
        guard let format = frame.pixelFormat else { throw ModuleError("swiftmirror: not raw video") }
        for index in 0..<frame.planeCount {
            let plane = try frame.plane(index)
            let sampleBytes = format.isRGB ? 4 : (format == .nv12 && index == 1 ? 2 : 1)
            for row in 0..<plane.rows {
                let data = plane.row(row)
                switch sampleBytes {
                case 4: Self.mirror(SIMD4<UInt32>.self, data, count: plane.rowBytes / 4)
                case 2: Self.mirror(SIMD8<UInt16>.self, data, count: plane.rowBytes / 2)
                default: Self.mirror(SIMD16<UInt8>.self, data, count: plane.rowBytes)
                }
            }
        }
        try controller.enqueue(frame)
    }

    @inline(__always)
    private static func reversed<Vector: SIMD>(_ vector: Vector) -> Vector {
        var result = vector
        for lane in 0..<Vector.scalarCount { result[lane] = vector[Vector.scalarCount - 1 - lane] }
        return result
    }

    @inline(__always)
    private static func mirror<Vector: SIMD>(_: Vector.Type, _ output: UnsafeMutableRawPointer, count: Int) where Vector.Scalar: FixedWidthInteger {
        let lanes = Vector.scalarCount
        let size = MemoryLayout<Vector.Scalar>.stride
        var left = 0, right = count
        while right - left >= 2 * lanes {
            let low = output.loadUnaligned(fromByteOffset: left * size, as: Vector.self)
            let high = output.loadUnaligned(fromByteOffset: (right - lanes) * size, as: Vector.self)
            output.storeBytes(of: reversed(high), toByteOffset: left * size, as: Vector.self)
            output.storeBytes(of: reversed(low), toByteOffset: (right - lanes) * size, as: Vector.self)
            left += lanes
            right -= lanes
        }
        let samples = output.assumingMemoryBound(to: Vector.Scalar.self)
        while right - left >= 2 {
            right -= 1
            let swapped = samples[left]
            samples[left] = samples[right]
            samples[right] = swapped
            left += 1
        }
    }
}

/// Encoded identity behind the module ABI (the benchmark's baseline for the boundary's cost).
final class Passthrough: ModuleTransform {
    static let name = "passthrough"
    static let summary = "Passes every encoded frame on unchanged"
    static let frames = ModuleFrames.encoded()
    init(parameters: TransformParameters) throws {}
    func transform(_ frame: ModuleFrame, controller: ModuleController) throws { try controller.enqueue(frame) }
}

/// Inverts every byte after the first `clear` ones, in place: the built-in `negate`'s in-place
/// path (for Opus it keeps the one TOC byte clear, as `clear=1` here), so that the benchmark
/// compares the module boundary on a transform that rewrites the bytes, not two algorithms.
final class SwiftNegate: ModuleTransform {
    static let name = "swiftnegate"
    static let summary = "Inverts every byte after the first clear ones (the built-in negate on Opus, as a module)"
    static let parameters = [TransformParameterInfo("clear", "bytes left as they are at the start of each frame, 0 to 64 (default 1: Opus's TOC byte)")]
    static let frames = ModuleFrames.encoded()
    let clear: Int
    init(parameters: TransformParameters) throws { clear = try parameters.integer("clear", default: 1, range: 0...64) }

    func transform(_ frame: ModuleFrame, controller: ModuleController) throws {
        let bytes = frame.bytes
        if let base = bytes.baseAddress, bytes.count > clear {
            let body = base + clear, count = bytes.count - clear, words = count / 8
            for index in 0..<words {
                let pointer = body + index * 8
                pointer.storeBytes(of: ~pointer.loadUnaligned(as: UInt64.self), as: UInt64.self)
            }
            for index in (words * 8)..<count { body.storeBytes(of: ~body.load(fromByteOffset: index, as: UInt8.self), toByteOffset: index, as: UInt8.self) }
        }
        try controller.enqueue(frame)
    }
}

/// Throws on every n-th frame (tests: a module transform that fails loses that frame only).
final class FailEvery: ModuleTransform {
    static let name = "fail-every"
    static let summary = "Passes frames on, but throws on every n-th one"
    static let parameters = [TransformParameterInfo("n", "which frames fail: every n-th, 1 to 1000 (default 3)")]
    static let frames = ModuleFrames.raw(formats: nil, video: true, audio: true)
    let n: Int
    var count = 0
    init(parameters: TransformParameters) throws { n = try parameters.integer("n", default: 3, range: 1...1000) }
    func transform(_ frame: ModuleFrame, controller: ModuleController) throws {
        count += 1
        if count % n == 0 { throw ModuleError("fail-every: frame \(count) fails on purpose (n=\(n))") }
        try controller.enqueue(frame)
    }
}

/// Makes a new frame of half the width and height (every other sample of every other row) and
/// passes it on instead of the input: the module ABI's new_video_frame.
final class Halve: ModuleTransform {
    static let name = "halve"
    static let summary = "Halves the picture's width and height (a new, smaller frame replaces each frame)"
    static let frames = ModuleFrames.raw(formats: [.i420, .rgba, .bgra, .rgbx, .bgrx])

    init(parameters: TransformParameters) throws {}

    func transform(_ frame: ModuleFrame, controller: ModuleController) throws {
        guard let format = frame.pixelFormat else { throw ModuleError("halve: not raw video") }
        let output = try controller.newVideoFrame(format: format, width: max(1, frame.width / 2), height: max(1, frame.height / 2),
                                                  timestamp: frame.timestamp, duration: frame.duration)
        for index in 0..<frame.planeCount {
            let source = try frame.plane(index), target = try output.plane(index)
            let sampleBytes = format.isRGB ? 4 : 1
            for row in 0..<target.rows {
                let input = source.row(min(source.rows - 1, row * 2)), out = target.row(row)
                for x in 0..<(target.rowBytes / sampleBytes) {
                    (out + x * sampleBytes).copyMemory(from: input + min(source.rowBytes / sampleBytes - 1, x * 2) * sampleBytes, byteCount: sampleBytes)
                }
            }
        }
        try controller.enqueue(output)
    }
}
