import EncodedStreams

/// Counts the frames an encryption transform refused, by kind, and reports them to the
/// application as `<transform>-error` messages (the element's `message` signal and an element
/// message on the bus), at most one per kind per second so that a flood of bad frames cannot
/// drown the bus: a report says how many frames of that kind were refused since the previous
/// one, the last reason (texts never hold key material) and the key it concerned.
struct EncryptionFailureLog {
    /// `sframe-error`, `framecryptor-error`.
    let messageName: String
    /// How reports name the key: `key-id` (SFrame), `key-index` (framecryptor).
    let keyField: String
    private(set) var totals: [String: UInt64] = [:]
    private var unreported: [String: (count: UInt64, reason: String, key: UInt64?)] = [:]
    private var lastReport: [String: ContinuousClock.Instant] = [:]
    static let interval = Duration.seconds(1)

    init(messageName: String, keyField: String) {
        self.messageName = messageName
        self.keyField = keyField
    }

    func total(_ kind: String) -> UInt64 { totals[kind, default: 0] }

    mutating func record(kind: String, reason: String, key: UInt64?, controller: EncodedTransformController) {
        totals[kind, default: 0] += 1
        let previous = unreported[kind]?.count ?? 0
        unreported[kind] = (previous + 1, reason, key)
        reportDue(controller: controller)
    }

    /// Posts the kinds whose quiet second is over (also called on good frames, so that the
    /// tail of a burst is reported once the stream is healthy again).
    mutating func reportDue(controller: EncodedTransformController, force: Bool = false) {
        guard !unreported.isEmpty else { return }
        let now = ContinuousClock.now
        for (kind, pending) in unreported.sorted(by: { $0.key < $1.key }) {
            if !force, let last = lastReport[kind], now - last < Self.interval { continue }
            var message = TransformMessage(messageName, [
                "kind": .string(kind),
                "frames": .uint(UInt(pending.count)),
                "total": .uint(UInt(totals[kind, default: 0])),
                "reason": .string(pending.reason),
            ])
            if let key = pending.key { message[keyField] = .uint(UInt(key)) }
            controller.postMessage(message)
            lastReport[kind] = now
            unreported[kind] = nil
        }
    }
}
