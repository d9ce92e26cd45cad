import GStreamerBridge

/// The processor's buffer: a circular queue of at most `capacity` frames.
///
/// As in MediaStreamTrackProcessor, a full ring drops (and closes) its OLDEST frame to make room:
/// the producer (GStreamer's streaming thread) never waits, and a slow consumer always gets the
/// most recent frames, in order. One consumer at a time: the element's worker thread (`next()`),
/// or a Swift task iterating the readable (`nextAsync()`).
public final class FrameRing: @unchecked Sendable {
    public enum Next {
        case frame(MediaFrame)
        /// Once per stream: everything before it was delivered.
        case endOfStream
        /// The consumer must return: its element is stopping.
        case shutdown
    }

    private let sync = LockedCondition()
    private var frames: [MediaFrame] = []
    private var capacity: Int
    private var ended = false
    private var flushing = false
    private var consumed = false
    private var isShutDown = false
    private var total: UInt64 = 0
    private var discarded: UInt64 = 0
    private var asyncWaiter: CheckedContinuation<MediaFrame?, Never>?

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        frames.reserveCapacity(self.capacity + 1)
    }

    /// Changes the capacity; extra frames (oldest first) are discarded.
    public func setCapacity(_ newCapacity: Int) {
        var removed: [MediaFrame] = []
        sync.withLock {
            capacity = max(1, newCapacity)
            while frames.count > capacity {
                removed.append(frames.removeFirst())
                discarded += 1
            }
        }
        removed.forEach { $0.close() }
    }

    public var totalFrames: UInt64 { sync.withLock { total } }
    public var discardedFrames: UInt64 { sync.withLock { discarded } }
    public var count: Int { sync.withLock { frames.count } }

    /// Adds a frame, dropping the oldest when full. Returns false (and closes the frame) when the
    /// ring is flushing or has ended.
    @discardableResult
    public func push(_ frame: MediaFrame) -> Bool {
        var dropped: MediaFrame?
        let accepted: Bool = sync.withLock {
            guard !flushing, !ended else { return false }
            total += 1
            if let waiter = asyncWaiter {
                asyncWaiter = nil
                waiter.resume(returning: frame)
                return true
            }
            if frames.count >= capacity {
                dropped = frames.removeFirst()
                discarded += 1
            }
            frames.append(frame)
            sync.broadcast()
            return true
        }
        dropped?.close()
        if !accepted { frame.close() }
        return accepted
    }

    /// Blocks until a frame is available, the stream ended (reported once), or the ring shuts
    /// down. While flushing, and after the end of the stream was consumed, it keeps waiting: the
    /// consumer thread never has to pause itself (which would race with a restart).
    public func next() -> Next {
        sync.withLock {
            while true {
                if isShutDown { return .shutdown }
                if !flushing {
                    if !frames.isEmpty { return .frame(frames.removeFirst()) }
                    if ended && !consumed { return .endOfStream }
                }
                sync.wait()
            }
        }
    }

    /// Async variant for Swift consumers; nil at the end of the stream or while flushing.
    public func nextAsync() async -> MediaFrame? {
        await withCheckedContinuation { continuation in
            sync.withLock {
                if !flushing, !frames.isEmpty {
                    continuation.resume(returning: frames.removeFirst())
                } else if flushing || ended {
                    continuation.resume(returning: nil)
                } else {
                    asyncWaiter?.resume(returning: nil)
                    asyncWaiter = continuation
                }
            }
        }
    }

    /// The newest frame, without waiting; older queued frames are discarded. For secondary
    /// inputs that only ever want the latest picture (picture-in-picture).
    public func takeLatest() -> MediaFrame? {
        var older: [MediaFrame] = []
        let latest: MediaFrame? = sync.withLock {
            guard let last = frames.popLast() else { return nil }
            older = frames
            discarded += UInt64(frames.count)
            frames.removeAll(keepingCapacity: true)
            return last
        }
        older.forEach { $0.close() }
        return latest
    }

    /// End of stream: the consumer drains what is queued, then sees `.endOfStream`.
    public func endStream() {
        let waiter: CheckedContinuation<MediaFrame?, Never>? = sync.withLock {
            ended = true
            sync.broadcast()
            defer { asyncWaiter = nil }
            return frames.isEmpty ? asyncWaiter : nil
        }
        waiter?.resume(returning: nil)
    }

    /// Flushing drops every queued frame (counted as discarded) and refuses new ones until
    /// `stopFlushing()`; a blocked consumer returns `.flushing`.
    public func startFlushing() {
        var removed: [MediaFrame] = []
        let waiter: CheckedContinuation<MediaFrame?, Never>? = sync.withLock {
            flushing = true
            removed = frames
            discarded += UInt64(frames.count)
            frames.removeAll()
            sync.broadcast()
            defer { asyncWaiter = nil }
            return asyncWaiter
        }
        removed.forEach { $0.close() }
        waiter?.resume(returning: nil)
    }

    /// Leaves flushing and clears the end-of-stream state (a new segment starts).
    public func stopFlushing() {
        sync.withLock {
            flushing = false
            ended = false
            consumed = false
            sync.broadcast()
        }
    }

    /// Flushes and makes a blocked `next()` return `.shutdown` (the element is stopping).
    public func shutDown() {
        startFlushing()
        sync.withLock {
            isShutDown = true
            sync.broadcast()
        }
    }

    /// Ready for a new run after `shutDown()`: empty, not flushing, not ended.
    public func restart() {
        sync.withLock {
            isShutDown = false
            flushing = false
            ended = false
            consumed = false
        }
    }

    /// Called by the consumer once it has handled `.endOfStream` (flushed its transforms and
    /// closed the writable).
    public func markConsumed() {
        sync.withLock {
            consumed = true
            sync.broadcast()
        }
    }

    /// Waits until the consumer has handled the end of stream; false if a flush or shutdown
    /// interrupted it.
    public func waitUntilConsumed() -> Bool {
        sync.withLock {
            while !consumed && !flushing && !isShutDown { sync.wait() }
            return consumed
        }
    }
}
