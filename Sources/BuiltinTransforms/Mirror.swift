import MediaStreams

/// Flips every plane horizontally, in place. Exact for every format (chroma samples move
/// with their luma block; NV12's U,V pairs move as one 16-bit sample).
final class MirrorTransform: FrameTransformer {
    func transform(_ frame: MediaFrame, controller: TransformController) throws {
        if case .video(let video) = frame {
            try video.withMutablePlanes { planes in
                for (index, plane) in planes.enumerated() {
                    let sampleBytes = video.format.planes[index].bytesPerSample
                    for row in 0..<plane.rows {
                        let start = plane.data + row * plane.stride
                        switch sampleBytes {
                        case 4: reverse(start.assumingMemoryBound(to: UInt32.self), count: plane.rowBytes / 4)
                        case 2: reverse(start.assumingMemoryBound(to: UInt16.self), count: plane.rowBytes / 2)
                        default: reverse(start.assumingMemoryBound(to: UInt8.self), count: plane.rowBytes)
                        }
                    }
                }
            }
        }
        try controller.enqueue(frame)
    }

    @inline(__always)
    private func reverse<T>(_ row: UnsafeMutablePointer<T>, count: Int) {
        var buffer = UnsafeMutableBufferPointer(start: row, count: count)
        buffer.reverse()
    }
}
