import CGStreamer
import GStreamerBridge

/// Posts a warning when a transform throws, at most once a second so that a transform failing
/// on every frame cannot flood the bus; the warning says how many failures it stands for.
final class FailureReporter: @unchecked Sendable {
    private var lastPost: Int64 = 0
    private var suppressed = 0
    private(set) var total: UInt64 = 0

    func report(_ error: any Error, element: ElementSubclass) {
        total += 1
        let now = Int64(g_get_monotonic_time())
        guard lastPost == 0 || now - lastPost >= 1_000_000 else {
            suppressed += 1
            return
        }
        let extra = suppressed > 0 ? " (\(suppressed) more failures since the last warning)" : ""
        suppressed = 0
        lastPost = now
        element.postWarning(.stream(GST_STREAM_ERROR_FAILED),
                            "The worker transform failed on a frame; the frame was dropped and the stream continues: \(error)\(extra)",
                            debug: "transform(_:controller:) threw; \(total) failures so far")
    }
}
