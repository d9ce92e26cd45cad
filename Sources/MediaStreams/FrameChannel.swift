import Synchronization

/// The consumer end of a `FrameChannel` (a `trackgenerator`): decides about each frame written.
public protocol FrameChannelConsumer: AnyObject, Sendable {
    /// On the writer's thread, before the frame is queued: true to queue it, false to drop it
    /// (the consumer counts it, e.g. muted or not running). Throws when the consumer can never
    /// take such a frame (wrong kind); the consumer reports that itself.
    func admit(_ frame: MediaFrame) throws -> Bool
    /// An admitted frame the queue did not take (flushing, not running, ended): counted.
    func discardedAdmittedFrame()
    /// A producer joined or left: the latency the consumer reports may have changed.
    func producersChanged()
}

/// A named channel between producers (`trackprocessor pipe-to=NAME`, a Swift writer) and the
/// consumer (`trackgenerator name=NAME`), the way gst-plugins-rs's `inter` elements meet: the
/// channel exists as soon as either end asks for it by name, whatever the order in which the
/// ends are created, started or torn down, in one pipeline or several. Neither end knows the
/// other's type; the channel owns what passes between them:
/// - the hand-off: a one-frame queue whose writers block while it is full (a WritableStream's
///   back-pressure), read by the consumer's streaming thread;
/// - the end of the stream: a producer's `close()` (EOS) or `abort(reason:)` (error);
/// - the latency: each producer registers how to learn its upstream latency, and the consumer
///   reports the largest.
public final class FrameChannel: FrameWriter, Sendable {
    public typealias ProducerID = UInt64

    public let name: String
    /// The consumer's queue: it resets, flushes and shuts it down with its own states.
    public let queue: HandoffQueue<MediaFrame, Never>

    private struct Endpoints: @unchecked Sendable {
        weak var consumer: (any FrameChannelConsumer)?
        var producers: [ProducerID: @Sendable () -> UInt64?] = [:]
    }
    private let endpoints = Mutex(Endpoints())
    private static let nextProducer = Atomic<ProducerID>(0)

    private init(name: String) {
        self.name = name
        queue = HandoffQueue(policy: .block, capacity: 1, handlers: .init(discardData: { $0.close() }))
        queue.shutDown()  // until a consumer runs
    }

    // MARK: directory

    private struct WeakChannel: @unchecked Sendable { weak var channel: FrameChannel? }
    private static let directory = Mutex<[String: WeakChannel]>([:])

    /// The channel called `name`, made on first use; it lives while an end holds it.
    public static func named(_ name: String) -> FrameChannel {
        directory.withLock { channels in
            if let channel = channels[name]?.channel { return channel }
            channels = channels.filter { $0.value.channel != nil }
            let channel = FrameChannel(name: name)
            channels[name] = WeakChannel(channel: channel)
            return channel
        }
    }

    /// Names of the channels that have a consumer (for error messages listing what exists).
    public static var consumerNames: [String] {
        let channels = directory.withLock { $0.values.compactMap(\.channel) }
        return channels.filter(\.hasConsumer).map(\.name).sorted()
    }

    // MARK: ends

    public func attachConsumer(_ consumer: any FrameChannelConsumer) {
        endpoints.withLock { $0.consumer = consumer }
    }

    public func detachConsumer(_ consumer: any FrameChannelConsumer) {
        endpoints.withLock { if $0.consumer === consumer { $0.consumer = nil } }
    }

    public var hasConsumer: Bool { endpoints.withLock { $0.consumer != nil } }

    /// A producer joins; `upstreamLatency` tells its live upstream latency (nil: not live).
    public func attachProducer(upstreamLatency: @escaping @Sendable () -> UInt64?) -> ProducerID {
        let id = Self.nextProducer.add(1, ordering: .relaxed).newValue
        let consumer = endpoints.withLock { endpoints in
            endpoints.producers[id] = upstreamLatency
            return endpoints.consumer
        }
        consumer?.producersChanged()
        return id
    }

    public func detachProducer(_ id: ProducerID) {
        let consumer = endpoints.withLock { endpoints in
            endpoints.producers.removeValue(forKey: id)
            return endpoints.consumer
        }
        consumer?.producersChanged()
    }

    /// The largest upstream latency of the producers (0 when none is live).
    public func upstreamLatency() -> UInt64 {
        let providers = endpoints.withLock { Array($0.producers.values) }
        return providers.compactMap { $0() }.max() ?? 0
    }

    // MARK: FrameWriter

    /// Queues `frame` for the consumer, waiting while the queue is full. Without a consumer the
    /// frame is dropped and `FrameChannelError.noConsumer` thrown; the consumer may refuse it.
    public func write(_ frame: MediaFrame, cancelled: () -> Bool) throws {
        guard let consumer = endpoints.withLock({ $0.consumer }) else {
            frame.close()
            throw FrameChannelError.noConsumer(channel: name)
        }
        let admitted: Bool
        do {
            admitted = try consumer.admit(frame)
        } catch {
            frame.close()
            throw error
        }
        guard admitted else {
            frame.close()
            return
        }
        // A frame the queue does not take is closed by it.
        let result = queue.push(frame, cancelled: cancelled)
        if result != .accepted { consumer.discardedAdmittedFrame() }
        if result == .ended { throw FrameChannelError.ended(channel: name) }
    }

    public func interruptWrites() { queue.wakeProducers() }

    /// Takes back the frames `matching` picks that still wait for the consumer: a producer that
    /// flushes calls it after `interruptWrites` (with its `cancelled` set), so that nothing it
    /// wrote before the flush comes out after it. Each counts as discarded by the consumer.
    public func withdraw(where matching: (MediaFrame) -> Bool) {
        let count = queue.discardData(where: matching)
        guard count > 0, let consumer = endpoints.withLock({ $0.consumer }) else { return }
        for _ in 0..<count { consumer.discardedAdmittedFrame() }
    }

    public func close() { queue.endStream() }

    public func abort(reason: String) { queue.endStream(error: reason) }
}

public enum FrameChannelError: Error, CustomStringConvertible, Equatable {
    case noConsumer(channel: String)
    case ended(channel: String)

    public var description: String {
        switch self {
        case .noConsumer(let channel): "no trackgenerator named \(channel) is running"
        case .ended(let channel): "trackgenerator '\(channel)': the track has ended (its writer was closed or aborted)"
        }
    }
}
