import Synchronization

/// What a full queue does with one more data item.
public enum HandoffPolicy: Sendable, Equatable {
    /// The oldest data item is dropped (counted) to make room: the producer never waits, and a
    /// slow consumer always gets the most recent items (MediaStreamTrackProcessor's ring).
    case dropOldest
    /// The producer waits for room: back-pressure (`rtpscripttransform`, a generator's writable).
    case block
}

/// The one hand-off between a producer (GStreamer's streaming thread, an application) and a
/// consumer (an element's worker): data items in order under a capacity and a policy, control
/// items (messages, scheduled work) served before data and never dropped for room, and the
/// stream's states: running, flushing, ended (reported once, after the data), shut down.
///
/// Control items go first, but not forever: after `controlBurst` of them in a row while data
/// waits, one data item is served, so an application flooding the control lane slows the stream
/// down instead of stopping it. `pushBoundedControl` refuses (rather than queues) a control item
/// once `controlCapacity` wait, for producers that must not grow the queue without bound.
///
/// All of it lives in one `ConditionLock<State>`; producers and the consumer sleep on its
/// condition and are woken by state changes only, never by a timer. A waiter is signalled only
/// when one sleeps (a frame that finds nobody waiting costs no wake-up).
///
/// Items leaving without being consumed (dropped for room, flushed, refused) go to `discard`,
/// outside the lock, so frames are closed and GStreamer objects released exactly once.
public final class HandoffQueue<Data: Sendable, Control: Sendable>: @unchecked Sendable {
    public enum Next {
        case data(Data)
        case control(Control)
        /// Everything before it was delivered. `error` is the producer's reason when it aborted.
        case endOfStream(error: String?)
        /// The queue is flushing: nothing to deliver until it stops (a worker pauses).
        case flushing
        /// The queue was shut down: the consumer must return (its element is stopping).
        case shutdown
    }

    public enum PushResult: Equatable, Sendable {
        case accepted
        /// Not taken: the queue is flushing or shut down.
        case flushing
        /// Not taken: the stream has ended.
        case ended
        /// Not taken: the consumer stopped taking data, for the reason it gave (`refuse(_:)`).
        case refused(Int32)
        /// Not taken: the producer's own `cancelled` turned true while it waited for room.
        case cancelled
    }

    /// What the owner decides about its items.
    public struct Handlers: Sendable {
        public var discardData: @Sendable (Data) -> Void
        public var discardControl: @Sendable (Control) -> Void
        /// Data items counted against the capacity (others, e.g. events, always fit).
        public var countsTowardCapacity: @Sendable (Data) -> Bool
        /// Control items kept by a flush (e.g. application messages); the others are discarded.
        public var keepsOnFlush: @Sendable (Control) -> Bool

        public init(discardData: @escaping @Sendable (Data) -> Void = { _ in },
                    discardControl: @escaping @Sendable (Control) -> Void = { _ in },
                    countsTowardCapacity: @escaping @Sendable (Data) -> Bool = { _ in true },
                    keepsOnFlush: @escaping @Sendable (Control) -> Bool = { _ in false }) {
            self.discardData = discardData
            self.discardControl = discardControl
            self.countsTowardCapacity = countsTowardCapacity
            self.keepsOnFlush = keepsOnFlush
        }
    }

    public enum Mode: Sendable, Equatable { case running, flushing, shutdown }

    /// What `pushBoundedControl` did with an item.
    public enum ControlPushResult: Sendable, Equatable {
        case accepted
        /// Not taken: shut down, or flushing and the handlers do not keep it.
        case closed
        /// Not taken: `controlCapacity` control items already wait.
        case full(waiting: Int)
    }

    /// Control items served in a row while data waits before one data item is served.
    public static var controlBurst: Int { 16 }

    public struct State {
        @usableFromInline var data = FIFO<Data>()
        @usableFromInline var controls = FIFO<Control>()
        @usableFromInline var counted = 0
        public var capacity: Int
        /// What a full queue does with one more data item (`setPolicy`).
        public var policy: HandoffPolicy
        public var mode: Mode = .running
        /// The producer ended the stream (`endStream`); `.endOfStream` follows the data.
        public var ended = false
        @usableFromInline var endError: String?
        @usableFromInline var endDelivered = false
        /// The consumer finished handling the end (`acknowledgeEnd`).
        public var endAcknowledged = false
        /// Set by `refuse`: producers get `.refused(code)` until `reset`.
        public var refusal: Int32?
        /// Data items accepted since the last `reset`.
        public var total: UInt64 = 0
        /// Data items dropped for room or by a flush since the last `reset`.
        public var dropped: UInt64 = 0
        @usableFromInline var consumerWaiting = false
        @usableFromInline var producersWaiting = 0
        @usableFromInline var endWaiters = 0
        /// Counts flushes and shutdowns. A waiter compares it with the value it started with, so a
        /// flush that starts and stops before the waiter runs again still ends the wait.
        @usableFromInline var interruptions: UInt64 = 0
        @usableFromInline var asyncWaiter: CheckedContinuation<Data?, Never>?
        /// Control items served in a row while data waited (`controlBurst`).
        @usableFromInline var controlsInARow = 0

        public var count: Int { data.count }
        public var controlCount: Int { controls.count }

        @usableFromInline init(capacity: Int, policy: HandoffPolicy) {
            self.capacity = capacity
            self.policy = policy
        }
    }

    /// The most control items `pushBoundedControl` lets wait.
    public let controlCapacity: Int
    @usableFromInline let handlers: Handlers
    @usableFromInline let lock: ConditionLock<State>
    /// `State.interruptions`, written under the lock, readable without it.
    private let interruptionMirror = Atomic<UInt64>(0)

    public init(policy: HandoffPolicy, capacity: Int, controlCapacity: Int = 256, handlers: Handlers = Handlers()) {
        self.controlCapacity = max(1, controlCapacity)
        self.handlers = handlers
        lock = ConditionLock(State(capacity: max(1, capacity), policy: policy))
    }

    /// A snapshot of the state (counters, mode).
    public var state: State { lock.withLock { $0.state } }
    public var totalCount: UInt64 { lock.withLock { $0.state.total } }
    public var droppedCount: UInt64 { lock.withLock { $0.state.dropped } }
    public var count: Int { lock.withLock { $0.state.data.count } }
    public var policy: HandoffPolicy { lock.withLock { $0.state.policy } }

    // MARK: producer side

    /// Adds a data item. `.dropOldest` never waits; `.block` waits while the queue is full,
    /// until there is room or the queue flushes, shuts down, ends or is refused. An item not
    /// accepted goes to `discard`.
    ///
    /// `cancelled` is checked under the lock before the item is taken and before every wait: a
    /// producer that must stop (its own element flushes) sets its flag, then calls
    /// `wakeProducers()`; after that no item of its is accepted, so `discardData(where:)` can
    /// take back what it queued before.
    @discardableResult
    @inlinable
    public func push(_ item: Data, cancelled: () -> Bool = { false }) -> PushResult {
        let counts = handlers.countsTowardCapacity(item)
        var dropped: Data?
        let result: PushResult = lock.withLock { locked in
            if cancelled() { return .cancelled }
            if counts {
                let interruptions = locked.state.interruptions
                while locked.state.policy == .block
                        && locked.state.counted >= locked.state.capacity && locked.state.mode == .running
                        && locked.state.refusal == nil && !locked.state.ended {
                    if cancelled() { return .cancelled }
                    locked.state.producersWaiting += 1
                    locked.wait()
                    locked.state.producersWaiting -= 1
                    // An item that waited through a flush belongs to the flushed segment.
                    if locked.state.interruptions != interruptions { return .flushing }
                }
            }
            if locked.state.mode != .running { return .flushing }
            if locked.state.ended { return .ended }
            if let code = locked.state.refusal { return .refused(code) }
            if counts { locked.state.total += 1 }
            // An async consumer waits only on an empty queue; any item (counted or not) is its next.
            if let waiter = locked.state.asyncWaiter, locked.state.data.isEmpty {
                locked.state.asyncWaiter = nil
                waiter.resume(returning: item)
                return .accepted
            }
            if counts {
                if locked.state.counted >= locked.state.capacity {  // .dropOldest
                    dropped = Self.popOldestCounted(&locked.state, counts: handlers.countsTowardCapacity)
                    locked.state.counted -= 1
                    locked.state.dropped += 1
                }
                locked.state.counted += 1
            }
            locked.state.data.append(item)
            if locked.state.consumerWaiting { locked.broadcast() }
            return .accepted
        }
        if let dropped { handlers.discardData(dropped) }
        if result != .accepted { handlers.discardData(item) }
        return result
    }

    /// Adds a control item, served before any data. Refused (and discarded) only when shut down,
    /// or while flushing for items a flush would discard.
    @discardableResult
    @inlinable
    public func pushControl(_ item: Control) -> Bool {
        let accepted: Bool = lock.withLock { locked in
            switch locked.state.mode {
            case .shutdown: return false
            case .flushing where !handlers.keepsOnFlush(item): return false
            default: break
            }
            locked.state.controls.append(item)
            if locked.state.consumerWaiting { locked.broadcast() }
            return true
        }
        if !accepted { handlers.discardControl(item) }
        return accepted
    }

    /// Adds a control item unless `controlCapacity` of them already wait (an application's
    /// messages: a flood must not grow the queue without bound). Never waits, so the consumer's
    /// own thread may call it. An item not accepted goes to `discardControl`.
    @discardableResult
    public func pushBoundedControl(_ item: Control) -> ControlPushResult {
        let result: ControlPushResult = lock.withLock { locked in
            switch locked.state.mode {
            case .shutdown: return .closed
            case .flushing where !handlers.keepsOnFlush(item): return .closed
            default: break
            }
            let waiting = locked.state.controls.count
            if waiting >= controlCapacity { return .full(waiting: waiting) }
            locked.state.controls.append(item)
            if locked.state.consumerWaiting { locked.broadcast() }
            return .accepted
        }
        if result != .accepted { handlers.discardControl(item) }
        return result
    }

    /// Wakes producers waiting for room so that they re-check their `cancelled` condition.
    public func wakeProducers() {
        lock.withLock { locked in
            if locked.state.producersWaiting > 0 { locked.broadcast() }
        }
    }

    /// What `waitUntilEndAcknowledged(since:)` compares: the flushes and stops so far.
    public struct EndTicket: Sendable {
        @usableFromInline let interruptions: UInt64
    }

    /// The producer's end of stream: the consumer drains the data, then gets `.endOfStream`
    /// (with `error` when the producer aborted). Further pushes are refused with `.ended`.
    /// Returns the ticket to wait for its acknowledgement with: a flush or stop after this
    /// call ends that wait, even one over (flushing again off) before the wait starts.
    @discardableResult
    public func endStream(error: String? = nil) -> EndTicket {
        var ticket = EndTicket(interruptions: 0)
        let waiter: CheckedContinuation<Data?, Never>? = lock.withLock { locked in
            ticket = EndTicket(interruptions: locked.state.interruptions)
            guard !locked.state.ended else { return nil }
            locked.state.ended = true
            locked.state.endError = error
            locked.broadcast()
            // With data left, a waiting async consumer (there is none: it waits on an empty
            // queue) would drain it first; only an empty queue ends its wait now.
            guard locked.state.data.isEmpty else { return nil }
            defer { locked.state.asyncWaiter = nil }
            return locked.state.asyncWaiter
        }
        waiter?.resume(returning: nil)
        return ticket
    }

    /// Waits until the consumer acknowledged the end of stream; false when a flush or a
    /// shutdown came first: since `ticket` (from `endStream`), or else since this call.
    /// Without the ticket, a flush that started and stopped between `endStream` and this call
    /// (GstBaseSink calls unlock then unlock_stop when its pad deactivates) would go unseen:
    /// it also clears the end, so nothing would ever acknowledge it.
    public func waitUntilEndAcknowledged(since ticket: EndTicket? = nil) -> Bool {
        lock.withLock { locked in
            locked.state.endWaiters += 1
            defer { locked.state.endWaiters -= 1 }
            let interruptions = ticket?.interruptions ?? locked.state.interruptions
            while !locked.state.endAcknowledged && locked.state.mode == .running && locked.state.interruptions == interruptions {
                locked.wait()
            }
            return locked.state.endAcknowledged
        }
    }

    // MARK: consumer side

    /// The next item: control items first (but one data item after `controlBurst` of them in a
    /// row), then data in order, then the end of stream (once). Blocks while there is nothing;
    /// returns `.flushing` at once while flushing and `.shutdown` once shut down.
    @inlinable
    public func next() -> Next { lock.withLock { takeNext($0) } }

    /// `next()`, also giving the flushes and stops counted when the item was taken. A consumer
    /// compares it with `interruptionCount` later: a difference means a flush came since, so
    /// what it makes of the item belongs to the flushed stream.
    @inlinable
    public func next(interruptions: inout UInt64) -> Next {
        lock.withLock { locked in
            let next = takeNext(locked)
            interruptions = locked.state.interruptions
            return next
        }
    }

    /// Flushes and stops so far (lock-free; see `next(interruptions:)`).
    public var interruptionCount: UInt64 { interruptionMirror.load(ordering: .acquiring) }

    @inlinable
    func takeNext(_ locked: ConditionLock<State>.Locked) -> Next {
        while true {
            switch locked.state.mode {
            case .shutdown: return .shutdown
            case .flushing: return .flushing
            case .running: break
            }
            if locked.state.controlsInARow < Self.controlBurst || locked.state.data.isEmpty,
               let control = locked.state.controls.popFirst() {
                // Counted only while data waits behind it.
                locked.state.controlsInARow = locked.state.data.isEmpty ? 0 : locked.state.controlsInARow + 1
                return .control(control)
            }
            if let item = locked.state.data.popFirst() {
                locked.state.controlsInARow = 0
                if handlers.countsTowardCapacity(item) { locked.state.counted -= 1 }
                if locked.state.producersWaiting > 0 { locked.broadcast() }
                return .data(item)
            }
            if locked.state.ended && !locked.state.endDelivered {
                locked.state.endDelivered = true
                return .endOfStream(error: locked.state.endError)
            }
            locked.state.consumerWaiting = true
            locked.wait()
            locked.state.consumerWaiting = false
        }
    }

    /// For Swift consumers (`for await frame in readable`): the next data item, or nil at the
    /// end of the stream, while flushing or once shut down. One async consumer at a time.
    public func nextAsync() async -> Data? {
        await withCheckedContinuation { continuation in
            let resume: Data?? = lock.withLock { locked in
                if locked.state.mode == .running, let item = locked.state.data.popFirst() {
                    if handlers.countsTowardCapacity(item) { locked.state.counted -= 1 }
                    if locked.state.producersWaiting > 0 { locked.broadcast() }
                    return .some(item)
                }
                if locked.state.mode != .running || locked.state.ended { return .some(nil) }
                let previous = locked.state.asyncWaiter
                locked.state.asyncWaiter = continuation
                previous?.resume(returning: nil)
                return .none
            }
            if let resume { continuation.resume(returning: resume) }
        }
    }

    /// Removes the waiting data items `matching` picks, in place (counted as dropped, handed to
    /// `discardData` outside the lock), and wakes producers waiting for room. For a producer that
    /// flushes: what it queued before the flush must not reach the consumer after it.
    @discardableResult
    public func discardData(where matching: (Data) -> Bool) -> Int {
        var removed: [Data] = []
        lock.withLock { locked in
            guard !locked.state.data.isEmpty else { return }
            var kept: [Data] = []
            for item in locked.state.data.removeAll() {
                if matching(item) { removed.append(item) } else { kept.append(item) }
            }
            for item in kept { locked.state.data.append(item) }
            for item in removed where handlers.countsTowardCapacity(item) { locked.state.counted -= 1 }
            locked.state.dropped += UInt64(removed.count)
            if !removed.isEmpty && locked.state.producersWaiting > 0 { locked.broadcast() }
        }
        removed.forEach(handlers.discardData)
        return removed.count
    }

    /// The newest data item without waiting; older ones are dropped (counted). For secondary
    /// inputs that only ever want the latest picture (picture-in-picture).
    public func takeLatest() -> Data? {
        var older: [Data] = []
        let latest: Data? = lock.withLock { locked in
            guard let last = locked.state.data.popLast() else { return nil }
            older = locked.state.data.removeAll()
            locked.state.counted = 0
            locked.state.dropped += UInt64(older.count)
            if locked.state.producersWaiting > 0 { locked.broadcast() }
            return last
        }
        older.forEach(handlers.discardData)
        return latest
    }

    /// The consumer handled the end of stream (flushed its transforms, ended its output).
    public func acknowledgeEnd() {
        lock.withLock { locked in
            locked.state.endAcknowledged = true
            if locked.state.endWaiters > 0 { locked.broadcast() }
        }
    }

    /// The consumer stops taking data (e.g. downstream returned an error): producers waiting
    /// and to come get `.refused(code)` until `reset`/`setFlushing(false)`.
    public func refuse(_ code: Int32) {
        lock.withLock { locked in
            locked.state.refusal = code
            locked.broadcast()
        }
    }

    // MARK: owner

    /// Flushing (true) discards every data item (counted as dropped) and the control items the
    /// handlers do not keep, wakes everyone, and refuses new data; the consumer gets
    /// `.flushing`. Leaving it (false) starts a new segment: not ended, no refusal.
    public func setFlushing(_ flushing: Bool) {
        var flushedData: [Data] = []
        var flushedControls: [Control] = []
        let waiter: CheckedContinuation<Data?, Never>? = lock.withLock { locked in
            guard locked.state.mode != .shutdown else { return nil }
            if flushing {
                locked.state.mode = .flushing
                locked.state.interruptions &+= 1
                interruptionMirror.store(locked.state.interruptions, ordering: .releasing)
                flushedData = locked.state.data.removeAll()
                locked.state.dropped += UInt64(flushedData.count)
                locked.state.counted = 0
                for control in locked.state.controls.removeAll() {
                    if handlers.keepsOnFlush(control) { locked.state.controls.append(control) } else { flushedControls.append(control) }
                }
            } else {
                locked.state.mode = .running
                locked.state.ended = false
                locked.state.endError = nil
                locked.state.endDelivered = false
                locked.state.endAcknowledged = false
                locked.state.refusal = nil
            }
            locked.broadcast()
            // Leaving flushing keeps a waiting async consumer waiting (it was dropped, unresumed,
            // before: its task hung).
            guard flushing else { return nil }
            defer { locked.state.asyncWaiter = nil }
            return locked.state.asyncWaiter
        }
        waiter?.resume(returning: nil)
        discard(flushedData, flushedControls)
    }

    /// Discards everything, wakes everyone; the consumer gets `.shutdown` until `reset`.
    public func shutDown() {
        var flushedData: [Data] = []
        var flushedControls: [Control] = []
        let waiter: CheckedContinuation<Data?, Never>? = lock.withLock { locked in
            locked.state.mode = .shutdown
            locked.state.interruptions &+= 1
            interruptionMirror.store(locked.state.interruptions, ordering: .releasing)
            flushedData = locked.state.data.removeAll()
            locked.state.dropped += UInt64(flushedData.count)
            locked.state.counted = 0
            flushedControls = locked.state.controls.removeAll()
            locked.broadcast()
            defer { locked.state.asyncWaiter = nil }
            return locked.state.asyncWaiter
        }
        waiter?.resume(returning: nil)
        discard(flushedData, flushedControls)
    }

    /// Ready for a new run: empty, running, not ended, counters at zero.
    public func reset() {
        var flushedData: [Data] = []
        var flushedControls: [Control] = []
        lock.withLock { locked in
            flushedData = locked.state.data.removeAll()
            flushedControls = locked.state.controls.removeAll()
            let capacity = locked.state.capacity
            let policy = locked.state.policy
            let producers = locked.state.producersWaiting
            let endWaiters = locked.state.endWaiters
            let interruptions = locked.state.interruptions
            // An async consumer that waits across the reset waits for the new run's data (the
            // reset used to drop its continuation unresumed, so `for await` over a processor's
            // readable hung when the loop began before the element started).
            let asyncWaiter = locked.state.asyncWaiter
            locked.state = State(capacity: capacity, policy: policy)
            locked.state.producersWaiting = producers
            locked.state.endWaiters = endWaiters
            locked.state.interruptions = interruptions &+ 1
            interruptionMirror.store(locked.state.interruptions, ordering: .releasing)
            locked.state.asyncWaiter = asyncWaiter
            locked.broadcast()
        }
        discard(flushedData, flushedControls)
    }

    /// Changes the capacity; with `.dropOldest` the extra items (oldest first) are dropped.
    public func setCapacity(_ capacity: Int) {
        var removed: [Data] = []
        lock.withLock { locked in
            locked.state.capacity = max(1, capacity)
            if locked.state.policy == .dropOldest {
                while locked.state.counted > locked.state.capacity,
                      let oldest = Self.popOldestCounted(&locked.state, counts: handlers.countsTowardCapacity) {
                    removed.append(oldest)
                    locked.state.counted -= 1
                    locked.state.dropped += 1
                }
            }
            locked.broadcast()
        }
        removed.forEach(handlers.discardData)
    }

    /// Changes the policy. Producers waiting for room under `.block` are woken: under
    /// `.dropOldest` they push at once (the oldest item makes room).
    public func setPolicy(_ policy: HandoffPolicy) {
        lock.withLock { locked in
            guard locked.state.policy != policy else { return }
            locked.state.policy = policy
            locked.broadcast()
        }
    }

    /// Hands what left without being consumed to the owner, outside the lock.
    private func discard(_ data: [Data], _ controls: [Control]) {
        data.forEach(handlers.discardData)
        controls.forEach(handlers.discardControl)
    }

    /// Removes the oldest counted item (items that do not count stay in place, in order).
    @usableFromInline static func popOldestCounted(_ state: inout State, counts: (Data) -> Bool) -> Data? {
        var kept: [Data] = []
        var found: Data?
        while let item = state.data.popFirst() {
            if found == nil && counts(item) { found = item } else { kept.append(item) }
            if found != nil { break }
        }
        if !kept.isEmpty {
            let rest = state.data.removeAll()
            for item in kept + rest { state.data.append(item) }
        }
        return found
    }
}
