import Glibc
import MediaStreams

/// Sleeps a fixed time per frame, then passes it on: a deliberately slow consumer, to watch the
/// processor's ring drop its oldest frames (`discarded` grows) instead of blocking upstream.
final class DelayTransform: FrameTransformer {
    let milliseconds: Int

    init(milliseconds: Int) {
        self.milliseconds = milliseconds
    }

    func transform(_ frame: MediaFrame, controller: TransformController) throws {
        // usleep may refuse a second or more (POSIX allows EINVAL), so sleep in shorter pieces.
        var remaining = milliseconds * 1000
        while remaining > 0 {
            let piece = min(remaining, 500_000)
            usleep(useconds_t(piece))
            remaining -= piece
        }
        try controller.enqueue(frame)
    }
}
