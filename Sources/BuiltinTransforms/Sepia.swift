import MediaStreams

/// Sepia tone of the MDN example, on packed RGB formats (the processor asks upstream for one):
///   R' = min(255, 0.393 R + 0.769 G + 0.189 B)
///   G' = min(255, 0.349 R + 0.686 G + 0.168 B)
///   B' = min(255, 0.272 R + 0.534 G + 0.131 B)
/// computed in 12-bit fixed point, rounded to nearest (within ±1 of the real-valued formula).
/// Alpha/padding bytes are left alone.
final class SepiaTransform: FrameTransformer {
    var supportedVideoFormats: Set<VideoPixelFormat>? { [.rgba, .rgbx, .bgra, .bgrx] }
    var supportedKinds: Set<TrackKind> { [.video] }

    func transform(_ frame: MediaFrame, controller: TransformController) throws {
        guard case .video(let video) = frame, let offsets = video.format.rgbOffsets else {
            try controller.enqueue(frame)
            return
        }
        try video.withMutablePlanes { planes in
            let plane = planes[0]
            for row in 0..<plane.rows {
                let pixels = (plane.data + row * plane.stride).assumingMemoryBound(to: UInt8.self)
                Self.sepiaRow(pixels, width: video.codedWidth, offsets: offsets)
            }
        }
        try controller.enqueue(frame)
    }

    @inline(__always)
    static func sepiaRow(_ pixels: UnsafeMutablePointer<UInt8>, width: Int, offsets: (red: Int, green: Int, blue: Int)) {
        for x in 0..<width {
            let p = pixels + x * 4
            let r = UInt32(p[offsets.red]), g = UInt32(p[offsets.green]), b = UInt32(p[offsets.blue])
            p[offsets.red] = UInt8(min(255, (1610 * r + 3150 * g + 774 * b + 2048) >> 12))
            p[offsets.green] = UInt8(min(255, (1430 * r + 2810 * g + 688 * b + 2048) >> 12))
            p[offsets.blue] = UInt8(min(255, (1114 * r + 2187 * g + 537 * b + 2048) >> 12))
        }
    }
}
