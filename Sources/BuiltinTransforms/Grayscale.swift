import MediaStreams

/// Removes colour, keeping luma.
///
/// Packed RGB: Y = 0.299 R + 0.587 G + 0.114 B (BT.601 luma), computed in 16-bit fixed point as
/// `(19595 R + 38470 G + 7471 B + 32768) >> 16` (rounded to nearest, within ±1 of the real-valued
/// formula; the weights sum to 65536 so white stays 255), written to R, G and B; alpha/padding
/// untouched. YUV (I420, I422, I444, NV12): the Y plane already is the grey picture, so it is kept
/// and every chroma sample becomes 128 (no colour), exactly; this avoids a colour conversion.
final class GrayscaleTransform: FrameTransformer {
    var supportedKinds: Set<TrackKind> { [.video] }

    func transform(_ frame: MediaFrame, controller: TransformController) throws {
        guard case .video(let video) = frame else {
            try controller.enqueue(frame)
            return
        }
        try video.withMutablePlanes { planes in
            if let offsets = video.format.rgbOffsets {
                let plane = planes[0]
                for row in 0..<plane.rows {
                    let pixels = (plane.data + row * plane.stride).assumingMemoryBound(to: UInt8.self)
                    Self.grayRow(pixels, width: video.codedWidth, offsets: offsets)
                }
            } else {
                for plane in planes.dropFirst() {
                    for row in 0..<plane.rows {
                        (plane.data + row * plane.stride).initializeMemory(as: UInt8.self, repeating: 128, count: plane.rowBytes)
                    }
                }
            }
        }
        try controller.enqueue(frame)
    }

    @inline(__always)
    static func grayRow(_ pixels: UnsafeMutablePointer<UInt8>, width: Int, offsets: (red: Int, green: Int, blue: Int)) {
        for x in 0..<width {
            let p = pixels + x * 4
            let r = UInt32(p[offsets.red]), g = UInt32(p[offsets.green]), b = UInt32(p[offsets.blue])
            let y = UInt8(truncatingIfNeeded: (19595 &* r &+ 38470 &* g &+ 7471 &* b &+ 32768) >> 16)
            p[0] = y
            p[1] = y
            p[2] = y
        }
    }
}
