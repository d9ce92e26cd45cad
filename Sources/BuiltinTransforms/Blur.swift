import MediaStreams

/// Background blur: a box blur of radius r (a (2r+1)-wide mean) applied three times in each
/// direction, which approximates a Gaussian of sigma = sqrt(r(r + 1)) ≈ r + 1/2 (three boxes of
/// width d have variance 3(d² - 1)/12) at a fraction of its cost. Pixels beyond an edge repeat
/// the edge pixel (clamping), in every pass.
///
/// Every plane is blurred: R, G and B of packed RGB (alpha/padding, byte 3, is kept), Y, U and V
/// of planar YUV, and U and V of NV12's interleaved plane separately. Subsampled chroma planes
/// use the radius divided by their subsampling in that direction (at least 1), so chroma blurs
/// as far as luma does in picture terms.
///
/// Each pass keeps a running sum (add the sample entering the window, subtract the one
/// leaving), so the cost per pixel does not depend on the radius. Horizontal passes run on one
/// row at a time (in cache); vertical passes run row by row over a column-sum array rather than
/// column by column, so memory is read sequentially and the inner loop vectorizes. Every pass
/// rounds its means to nearest, exactly (see `Divider`), so the result is deterministic and
/// matches a naive integer implementation bit for bit.
final class BlurTransform: FrameTransformer {
    let radius: Int
    var supportedKinds: Set<TrackKind> { [.video] }

    /// Two planes' worth of intermediate results, two rows and the column sums: reused across
    /// frames (the worker is one thread) so that blurring allocates nothing per frame.
    private let planeA = ScratchBuffer<UInt8>(zero: 0)
    private let planeB = ScratchBuffer<UInt8>(zero: 0)
    private let row1 = ScratchBuffer<UInt8>(zero: 0)
    private let row2 = ScratchBuffer<UInt8>(zero: 0)
    private let sums = ScratchBuffer<UInt16>(zero: 0)

    init(radius: Int) {
        self.radius = radius
    }

    func transform(_ frame: MediaFrame, controller: TransformController) throws {
        guard case .video(let video) = frame else {
            try controller.enqueue(frame)
            return
        }
        try video.withMutablePlanes { planes in
            for (index, plane) in planes.enumerated() {
                let geometry = video.format.planes[index]
                let group = geometry.bytesPerSample
                blurPlane(plane, group: group, keepsAlpha: video.format.isRGB,
                          radiusX: max(1, radius >> geometry.horizontalShift),
                          radiusY: max(1, radius >> geometry.verticalShift))
            }
        }
        try controller.enqueue(frame)
    }

    func flush(controller: TransformController) throws {
        for scratch in [planeA, planeB, row1, row2] { scratch.release() }
        sums.release()
    }

    /// Blurs every byte of `plane`'s `group`-byte samples, except byte 3 of packed RGB pixels
    /// when `keepsAlpha`.
    private func blurPlane(_ plane: MutableVideoPlane, group: Int, keepsAlpha: Bool, radiusX: Int, radiusY: Int) {
        let rowBytes = plane.rowBytes, rows = plane.rows
        let width = rowBytes / group
        guard rows > 0, width > 0 else { return }
        let a = planeA.pointer(count: rowBytes * rows)
        let b = planeB.pointer(count: rowBytes * rows)
        let first = row1.pointer(count: rowBytes)
        let second = row2.pointer(count: rowBytes)
        let columnSums = sums.pointer(count: rowBytes)
        let horizontal = Divider(radius: radiusX)
        let vertical = Divider(radius: radiusY)

        // Horizontal: frame row -> first -> second -> a.
        for y in 0..<rows {
            let source = (plane.data + y * plane.stride).assumingMemoryBound(to: UInt8.self)
            switch group {
            case 4: Self.horizontalPasses(source, first, second, a + y * rowBytes, width: width, radius: radiusX, divider: horizontal, as: RGBPixel.self)
            case 2: Self.horizontalPasses(source, first, second, a + y * rowBytes, width: width, radius: radiusX, divider: horizontal, as: UVPixel.self)
            default: Self.horizontalPasses(source, first, second, a + y * rowBytes, width: width, radius: radiusX, divider: horizontal, as: UInt8.self)
            }
        }
        // Vertical: a -> b -> a -> frame. Every byte is summed (uniform, vectorizable loop);
        // alpha, blurred along with the rest in the scratch planes, is restored at the end.
        Self.verticalPass(a, stride: rowBytes, into: b, stride: rowBytes, rowBytes: rowBytes, rows: rows,
                          radius: radiusY, divider: vertical, sums: columnSums)
        Self.verticalPass(b, stride: rowBytes, into: a, stride: rowBytes, rowBytes: rowBytes, rows: rows,
                          radius: radiusY, divider: vertical, sums: columnSums)
        let output = plane.data.assumingMemoryBound(to: UInt8.self)
        if !keepsAlpha {
            Self.verticalPass(a, stride: rowBytes, into: output, stride: plane.stride, rowBytes: rowBytes, rows: rows,
                              radius: radiusY, divider: vertical, sums: columnSums)
        } else {
            // Packed RGB: the last pass goes to b, then R, G, B are merged into the frame.
            Self.verticalPass(a, stride: rowBytes, into: b, stride: rowBytes, rowBytes: rowBytes, rows: rows,
                              radius: radiusY, divider: vertical, sums: columnSums)
            let keep = UInt32(littleEndian: 0xFF00_0000)
            for y in 0..<rows {
                let target = (plane.data + y * plane.stride).assumingMemoryBound(to: UInt32.self)
                let blurred = UnsafeRawPointer(b + y * rowBytes)
                for x in 0..<width {
                    let value = blurred.loadUnaligned(fromByteOffset: x * 4, as: UInt32.self)
                    target[x] = (target[x] & keep) | (value & ~keep)
                }
            }
        }
    }

    /// Rounded division by the window size d = 2r + 1 as a multiply and shifts:
    /// floor((sum + (d-1)/2) / d) == (sum + (d-1)/2) * multiplier >> (16 + shift), exactly, for
    /// every sum up to 255 d and every d up to 129 (checked exhaustively). The multiplier fits 16
    /// bits so that the vertical pass can keep 16-bit lanes (twice as many per vector).
    struct Divider {
        let half: UInt32
        let multiplier: UInt32
        let shift: UInt32

        init(radius: Int) {
            let size = UInt32(2 * radius + 1)
            var shift: UInt32 = 0
            while ((1 << (17 + shift)) + size - 1) / size <= 65535 { shift += 1 }
            half = size / 2
            multiplier = ((1 << (16 + shift)) + size - 1) / size
            self.shift = shift
        }
    }

    /// The three horizontal passes of one row: source -> first -> second -> target.
    static func horizontalPasses<Pixel: BlurPixel>(_ source: UnsafePointer<UInt8>, _ first: UnsafeMutablePointer<UInt8>,
                                                   _ second: UnsafeMutablePointer<UInt8>, _ target: UnsafeMutablePointer<UInt8>,
                                                   width: Int, radius: Int, divider: Divider, as type: Pixel.Type) {
        horizontalPass(source, first, width: width, radius: radius, divider: divider, as: type)
        horizontalPass(first, second, width: width, radius: radius, divider: divider, as: type)
        horizontalPass(second, target, width: width, radius: radius, divider: divider, as: type)
    }

    /// One box pass along a row of `width` pixels, all lanes of a pixel at once.
    @inline(__always)
    static func horizontalPass<Pixel: BlurPixel>(_ source: UnsafePointer<UInt8>, _ target: UnsafeMutablePointer<UInt8>,
                                                 width: Int, radius: Int, divider: Divider, as _: Pixel.Type) {
        let lastIndex = width &- 1
        let first = Pixel.load(source, 0), last = Pixel.load(source, lastIndex)
        var sum = first &* Pixel.Sum(repeating: UInt32(radius &+ 1))
        for k in 1...radius { sum = sum &+ Pixel.load(source, min(k, lastIndex)) }
        let half = Pixel.Sum(repeating: divider.half), multiplier = Pixel.Sum(repeating: divider.multiplier)
        let shift = Pixel.Sum(repeating: 16 + divider.shift)
        // x < a: the leaving pixel is the clamped first one; a..<b: no clamping; b...: the
        // entering pixel is the clamped last one.
        let a = min(radius, width), b = max(a, width &- radius &- 1)
        var x = 0
        while x < a {
            Pixel.store(target, x, ((sum &+ half) &* multiplier) &>> shift)
            sum = sum &+ (Pixel.load(source, min(x &+ radius &+ 1, lastIndex)) &- first)
            x &+= 1
        }
        while x < b {
            Pixel.store(target, x, ((sum &+ half) &* multiplier) &>> shift)
            sum = sum &+ (Pixel.load(source, x &+ radius &+ 1) &- Pixel.load(source, x &- radius))
            x &+= 1
        }
        while x < width {
            Pixel.store(target, x, ((sum &+ half) &* multiplier) &>> shift)
            sum = sum &+ (last &- Pixel.load(source, x &- radius))
            x &+= 1
        }
    }

    /// One box pass down every byte column at once: `sums` holds the window sum of each column
    /// (at most 255 * 129, so 16 bits suffice).
    static func verticalPass(_ source: UnsafePointer<UInt8>, stride sourceStride: Int,
                             into target: UnsafeMutablePointer<UInt8>, stride targetStride: Int,
                             rowBytes: Int, rows: Int, radius: Int, divider: Divider,
                             sums: UnsafeMutablePointer<UInt16>) {
        let lastRow = rows - 1
        let weight = UInt16(radius + 1)
        for i in 0..<rowBytes { sums[i] = UInt16(source[i]) &* weight }
        for k in 1...radius {
            let row = source + min(k, lastRow) * sourceStride
            for i in 0..<rowBytes { sums[i] &+= UInt16(row[i]) }
        }
        let half = UInt16(divider.half), multiplier = divider.multiplier, shift = UInt16(divider.shift)
        for y in 0..<rows {
            let entering = source + min(y + radius + 1, lastRow) * sourceStride
            let leaving = source + max(y - radius, 0) * sourceStride
            let out = target + y * targetStride
            for i in 0..<rowBytes {
                let sum = sums[i]
                let high = UInt16(truncatingIfNeeded: (UInt32(sum &+ half) &* multiplier) &>> 16)
                out[i] = UInt8(truncatingIfNeeded: high &>> shift)
                sums[i] = sum &+ (UInt16(entering[i]) &- UInt16(leaving[i]))
            }
        }
    }
}

/// A pixel of one plane as the horizontal pass sees it: its samples widened to 32-bit lanes, so
/// that every lane of a packed pixel is summed by one vector operation.
protocol BlurPixel {
    associatedtype Sum: LaneSum
    static func load(_ row: UnsafePointer<UInt8>, _ index: Int) -> Sum
    static func store(_ row: UnsafeMutablePointer<UInt8>, _ index: Int, _ value: Sum)
}

/// Wrapping arithmetic on 32-bit lanes: a plain UInt32 or a SIMD vector of them.
protocol LaneSum {
    init(repeating value: UInt32)
    static func &+ (lhs: Self, rhs: Self) -> Self
    static func &- (lhs: Self, rhs: Self) -> Self
    static func &* (lhs: Self, rhs: Self) -> Self
    static func &>> (lhs: Self, rhs: Self) -> Self
}

extension UInt32: LaneSum {
    init(repeating value: UInt32) { self = value }
}
extension SIMD4: LaneSum where Scalar == UInt32 {}
extension SIMD2: LaneSum where Scalar == UInt32 {}

/// Packed RGB: four bytes (alpha is carried along and restored afterwards).
enum RGBPixel: BlurPixel {
    @inline(__always)
    static func load(_ row: UnsafePointer<UInt8>, _ index: Int) -> SIMD4<UInt32> {
        let bytes = UnsafeRawPointer(row).loadUnaligned(fromByteOffset: index &* 4, as: SIMD4<UInt8>.self)
        return SIMD4<UInt32>(truncatingIfNeeded: bytes)
    }

    @inline(__always)
    static func store(_ row: UnsafeMutablePointer<UInt8>, _ index: Int, _ value: SIMD4<UInt32>) {
        UnsafeMutableRawPointer(row).storeBytes(of: SIMD4<UInt8>(truncatingIfNeeded: value), toByteOffset: index &* 4, as: SIMD4<UInt8>.self)
    }
}

/// NV12's interleaved U, V pair.
enum UVPixel: BlurPixel {
    @inline(__always)
    static func load(_ row: UnsafePointer<UInt8>, _ index: Int) -> SIMD2<UInt32> {
        let bytes = UnsafeRawPointer(row).loadUnaligned(fromByteOffset: index &* 2, as: SIMD2<UInt8>.self)
        return SIMD2<UInt32>(truncatingIfNeeded: bytes)
    }

    @inline(__always)
    static func store(_ row: UnsafeMutablePointer<UInt8>, _ index: Int, _ value: SIMD2<UInt32>) {
        UnsafeMutableRawPointer(row).storeBytes(of: SIMD2<UInt8>(truncatingIfNeeded: value), toByteOffset: index &* 2, as: SIMD2<UInt8>.self)
    }
}

/// One sample of a planar Y, U or V plane.
extension UInt8: BlurPixel {
    @inline(__always)
    static func load(_ row: UnsafePointer<UInt8>, _ index: Int) -> UInt32 { UInt32(row[index]) }
    @inline(__always)
    static func store(_ row: UnsafeMutablePointer<UInt8>, _ index: Int, _ value: UInt32) {
        row[index] = UInt8(truncatingIfNeeded: value)
    }
}
