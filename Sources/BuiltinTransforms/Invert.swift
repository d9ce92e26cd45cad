import MediaStreams

/// The negative picture: every colour sample v becomes 255 - v.
///
/// Packed RGB: R, G and B are inverted; alpha/padding (always byte 3 of the four formats) is
/// left alone, so the XOR mask works on whole 32-bit pixels. YUV: Y, U and V are all inverted,
/// which is the same negative (U and V are centred on 128, so 255 - v mirrors the chroma too).
final class InvertTransform: FrameTransformer {
    var supportedKinds: Set<TrackKind> { [.video] }

    /// Bytes 0, 1, 2 set in memory order, byte 3 (alpha) clear.
    private static let rgbMask = UInt32(littleEndian: 0x00FF_FFFF)

    func transform(_ frame: MediaFrame, controller: TransformController) throws {
        guard case .video(let video) = frame else {
            try controller.enqueue(frame)
            return
        }
        try video.withMutablePlanes { planes in
            if video.format.isRGB {
                let plane = planes[0]
                let mask = Self.rgbMask
                for row in 0..<plane.rows {
                    let pixels = (plane.data + row * plane.stride).assumingMemoryBound(to: UInt32.self)
                    for x in 0..<video.codedWidth { pixels[x] ^= mask }
                }
            } else {
                for plane in planes {
                    for row in 0..<plane.rows {
                        let samples = (plane.data + row * plane.stride).assumingMemoryBound(to: UInt8.self)
                        for x in 0..<plane.rowBytes { samples[x] = ~samples[x] }
                    }
                }
            }
        }
        try controller.enqueue(frame)
    }
}
