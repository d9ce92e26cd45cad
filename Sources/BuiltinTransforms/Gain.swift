import Glibc
import MediaStreams

/// Multiplies audio samples by a constant factor, in place.
///
/// s16 (interleaved or planar): s' = clamp(round(s * factor), -32768, 32767), saturating rather
/// than wrapping so that too much gain clips instead of producing loud garbage. f32: s' = s * factor,
/// unclamped (float audio may exceed ±1 until a later stage limits it). Factor 1 leaves the data
/// untouched (no mapping for writing, so no copy of a shared buffer).
final class GainTransform: FrameTransformer {
    let factor: Float
    var supportedKinds: Set<TrackKind> { [.audio] }

    init(factor: Double) {
        self.factor = Float(factor)
    }

    /// `db` converts as factor = 10^(db / 20).
    static func factor(decibels: Double) -> Double { pow(10, decibels / 20) }

    func transform(_ frame: MediaFrame, controller: TransformController) throws {
        guard case .audio(let audio) = frame, factor != 1 else {
            try controller.enqueue(frame)
            return
        }
        let isS16 = audio.format.bytesPerSample == 2
        try audio.withMutablePlanes { planes in
            for plane in planes {
                guard let base = plane.baseAddress else { continue }
                if isS16 {
                    Self.scaleS16(base, count: plane.count / 2, factor: factor)
                } else {
                    Self.scaleF32(base, count: plane.count / 4, factor: factor)
                }
            }
        }
        try controller.enqueue(frame)
    }

    static func scaleS16(_ base: UnsafeMutableRawPointer, count: Int, factor: Float) {
        for index in 0..<count {
            let sample = Float(base.loadUnaligned(fromByteOffset: index * 2, as: Int16.self))
            let scaled = min(32767, max(-32768, (sample * factor).rounded()))
            base.storeBytes(of: Int16(scaled), toByteOffset: index * 2, as: Int16.self)
        }
    }

    static func scaleF32(_ base: UnsafeMutableRawPointer, count: Int, factor: Float) {
        for index in 0..<count {
            let sample = base.loadUnaligned(fromByteOffset: index * 4, as: Float.self)
            base.storeBytes(of: sample * factor, toByteOffset: index * 4, as: Float.self)
        }
    }
}
