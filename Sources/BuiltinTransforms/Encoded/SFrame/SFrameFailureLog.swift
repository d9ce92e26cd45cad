import EncodedStreams
import SFrame

/// Counts the frames SFrame refused, by kind, and reports them to the application as
/// `sframe-error` messages (the element's `message` signal and an element message on the bus),
/// at most one per kind per second so that a flood of bad frames cannot drown the bus: a
/// report says how many frames of that kind were refused since the previous one.
struct SFrameFailureLog {
    /// `authentication`, `keyID`, `syntax`, `replay` (receiver); `no-key`, `counter-exhausted` (sender).
    private(set) var totals: [String: UInt64] = [:]
    private var unreported: [String: (count: UInt64, last: SFrameError, keyID: UInt64?)] = [:]
    private var lastReport: [String: ContinuousClock.Instant] = [:]
    static let interval = Duration.seconds(1)

    func total(_ kind: String) -> UInt64 { totals[kind, default: 0] }

    mutating func record(_ error: SFrameError, keyID: UInt64?, controller: EncodedTransformController) {
        let kind = error.kind
        totals[kind, default: 0] += 1
        let previous = unreported[kind]?.count ?? 0
        unreported[kind] = (previous + 1, error, keyID)
        reportDue(controller: controller)
    }

    /// Posts the kinds whose quiet second is over (also called on good frames, so that the
    /// tail of a burst is reported once the stream is healthy again).
    mutating func reportDue(controller: EncodedTransformController, force: Bool = false) {
        guard !unreported.isEmpty else { return }
        let now = ContinuousClock.now
        for (kind, pending) in unreported.sorted(by: { $0.key < $1.key }) {
            if !force, let last = lastReport[kind], now - last < Self.interval { continue }
            var message = TransformMessage("sframe-error", [
                "kind": .string(kind),
                "frames": .uint(UInt(pending.count)),
                "total": .uint(UInt(totals[kind, default: 0])),
                "reason": .string(pending.last.description),
            ])
            if let keyID = pending.keyID { message["key-id"] = .uint(UInt(keyID)) }
            controller.postMessage(message)
            lastReport[kind] = now
            unreported[kind] = nil
        }
    }
}
