import Foundation
import Handoff
import Synchronization
import XCTest

/// The hand-off queue alone: deterministic (threads meet on semaphores, never on sleeps).
final class HandoffQueueTests: XCTestCase {
    final class Discards: Sendable {
        let items = Mutex<[Int]>([])
        var all: [Int] { items.withLock { $0 } }
    }

    typealias Queue = HandoffQueue<Int, String>

    /// A push on another thread; `result(within:)` is its outcome once it returned, nil while it still waits.
    final class BackgroundPush: Sendable {
        private let done = DispatchSemaphore(value: 0)
        private let outcome = Mutex<Queue.PushResult?>(nil)

        init(_ queue: Queue, _ item: Int, cancelled: (@Sendable () -> Bool)? = nil) {
            Thread.detachNewThread { [self] in
                let result = queue.push(item) { cancelled?() ?? false }
                outcome.withLock { $0 = result }
                done.signal()
            }
        }

        func result(within seconds: Double) -> Queue.PushResult? {
            done.wait(timeout: .now() + seconds) == .success ? outcome.withLock { $0 } : nil
        }
    }

    func makeQueue(_ policy: HandoffPolicy, capacity: Int, discards: Discards = Discards()) -> HandoffQueue<Int, String> {
        HandoffQueue(policy: policy, capacity: capacity, handlers: .init(
            discardData: { item in discards.items.withLock { $0.append(item) } },
            keepsOnFlush: { $0.hasPrefix("keep") }))
    }

    func drain(_ queue: HandoffQueue<Int, String>, count: Int) -> [Int] {
        (0..<count).compactMap { _ in if case .data(let item) = queue.next() { item } else { nil } }
    }

    func testDataLeavesInOrderAndControlsGoFirst() {
        let queue = makeQueue(.block, capacity: 8)
        for item in 1...5 { XCTAssertEqual(queue.push(item), .accepted) }
        XCTAssertTrue(queue.pushControl("message"))
        guard case .control("message") = queue.next() else { return XCTFail("the control item comes first") }
        XCTAssertEqual(drain(queue, count: 5), [1, 2, 3, 4, 5])
        XCTAssertEqual(queue.totalCount, 5)
        XCTAssertEqual(queue.droppedCount, 0)
    }

    /// A flood of control items cannot stop the data: one data item after every
    /// `controlBurst` controls served while data waited; without data waiting, controls only.
    func testControlFloodLetsDataThrough() {
        let queue = makeQueue(.block, capacity: 8)
        let burst = Queue.controlBurst
        for item in 1...3 { XCTAssertEqual(queue.push(item), .accepted) }
        for index in 0..<(3 * burst + 2) { XCTAssertTrue(queue.pushControl("m\(index)")) }
        var order: [String] = []
        for _ in 0..<(3 * burst + 5) {
            switch queue.next() {
            case .control(let name): order.append(name)
            case .data(let item): order.append("\(item)")
            default: XCTFail("unexpected item")
            }
        }
        let expected = (0..<burst).map { "m\($0)" } + ["1"] + (burst..<2 * burst).map { "m\($0)" } + ["2"]
            + (2 * burst..<3 * burst).map { "m\($0)" } + ["3", "m\(3 * burst)", "m\(3 * burst + 1)"]
        XCTAssertEqual(order, expected)
        // Controls served while no data waited do not count towards the next burst.
        for index in 0..<(2 * burst) { XCTAssertTrue(queue.pushControl("n\(index)")) }
        for _ in 0..<(2 * burst) { guard case .control = queue.next() else { return XCTFail("only controls wait") } }
        XCTAssertEqual(queue.push(4), .accepted)
        XCTAssertTrue(queue.pushControl("last"))
        guard case .control("last") = queue.next() else { return XCTFail("a control item still goes first") }
        XCTAssertEqual(drain(queue, count: 1), [4])
    }

    func testBoundedControlRefusesWhenFullAndDiscardsTheItem() {
        let discarded = Mutex<[String]>([])
        let queue = HandoffQueue<Int, String>(policy: .block, capacity: 4, controlCapacity: 3, handlers: .init(
            discardControl: { item in discarded.withLock { $0.append(item) } }))
        for index in 0..<3 { XCTAssertEqual(queue.pushBoundedControl("m\(index)"), .accepted) }
        XCTAssertEqual(queue.pushBoundedControl("m3"), .full(waiting: 3))
        XCTAssertTrue(queue.pushControl("internal"), "the unbounded lane (the worker's own work) still takes items")
        XCTAssertEqual(discarded.withLock { $0 }, ["m3"], "the refused item is discarded, once")
        guard case .control("m0") = queue.next() else { return XCTFail("first in, first out") }
        guard case .control("m1") = queue.next() else { return XCTFail("first in, first out") }
        XCTAssertEqual(queue.pushBoundedControl("m4"), .accepted, "room again once the worker took some")
        queue.shutDown()
        XCTAssertEqual(queue.pushBoundedControl("m5"), .closed)
    }

    func testDropOldestKeepsTheNewestAndCountsDrops() {
        let discards = Discards()
        let queue = makeQueue(.dropOldest, capacity: 3, discards: discards)
        for item in 1...10 { XCTAssertEqual(queue.push(item), .accepted) }
        XCTAssertEqual(queue.count, 3)
        XCTAssertEqual(queue.totalCount, 10)
        XCTAssertEqual(queue.droppedCount, 7)
        XCTAssertEqual(discards.all, [1, 2, 3, 4, 5, 6, 7], "dropped oldest first, each once")
        XCTAssertEqual(drain(queue, count: 3), [8, 9, 10])
    }

    func testCapacityChangeDropsTheOldest() {
        let discards = Discards()
        let queue = makeQueue(.dropOldest, capacity: 5, discards: discards)
        for item in 1...5 { queue.push(item) }
        queue.setCapacity(2)
        XCTAssertEqual(discards.all, [1, 2, 3])
        XCTAssertEqual(drain(queue, count: 2), [4, 5])
    }

    func testTakeLatestDiscardsOlderItems() {
        let discards = Discards()
        let queue = makeQueue(.dropOldest, capacity: 4, discards: discards)
        for item in 1...4 { queue.push(item) }
        XCTAssertEqual(queue.takeLatest(), 4)
        XCTAssertEqual(discards.all, [1, 2, 3])
        XCTAssertNil(queue.takeLatest())
    }

    func testBlockPolicyWaitsForRoom() {
        let queue = makeQueue(.block, capacity: 2)
        queue.push(1)
        queue.push(2)
        let push = BackgroundPush(queue, 3)
        XCTAssertNil(push.result(within: 0.2), "the producer waits while the queue is full")
        XCTAssertEqual(drain(queue, count: 1), [1])
        XCTAssertEqual(push.result(within: 5), .accepted)
        XCTAssertEqual(drain(queue, count: 2), [2, 3])
    }

    /// Switching a full `.block` queue to `.dropOldest` releases the waiting producer at once:
    /// its item goes in and the oldest is dropped (counted); a reset keeps the policy.
    func testPolicyChangeReleasesAWaitingProducer() {
        let discards = Discards()
        let queue = makeQueue(.block, capacity: 2, discards: discards)
        queue.push(1)
        queue.push(2)
        let push = BackgroundPush(queue, 3)
        XCTAssertNil(push.result(within: 0.2), "the producer waits while the queue is full")
        queue.setPolicy(.dropOldest)
        XCTAssertEqual(push.result(within: 5), .accepted)
        XCTAssertEqual(discards.all, [1])
        XCTAssertEqual(queue.droppedCount, 1)
        XCTAssertEqual(drain(queue, count: 2), [2, 3])
        queue.reset()
        XCTAssertEqual(queue.policy, .dropOldest)
        queue.setPolicy(.block)
        queue.push(4)
        queue.push(5)
        XCTAssertNil(BackgroundPush(queue, 6).result(within: 0.2), "waits again under .block")
        queue.shutDown()
    }

    func testFlushWakesABlockedProducerAndDropsWhatWaits() {
        let discards = Discards()
        let queue = makeQueue(.block, capacity: 1, discards: discards)
        queue.push(1)
        queue.pushControl("keep: message")
        queue.pushControl("work")
        let push = BackgroundPush(queue, 2)
        queue.setFlushing(true)
        XCTAssertEqual(push.result(within: 5), .flushing)
        XCTAssertEqual(discards.all.sorted(), [1, 2], "the queued item and the refused one are discarded")
        guard case .flushing = queue.next() else { return XCTFail("the consumer sees the flush") }
        XCTAssertEqual(queue.push(3), .flushing)
        queue.setFlushing(false)
        guard case .control("keep: message") = queue.next() else { return XCTFail("messages survive a flush") }
        queue.push(4)
        XCTAssertEqual(drain(queue, count: 1), [4])
    }

    func testFlushWakesABlockedConsumer() {
        let queue = makeQueue(.block, capacity: 1)
        let done = DispatchSemaphore(value: 0)
        let seen = Mutex<String>("")
        Thread.detachNewThread {
            let next = queue.next()
            seen.withLock { $0 = "\(next)" }
            done.signal()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 0.2), .timedOut, "the consumer waits for data")
        queue.setFlushing(true)
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
        XCTAssertEqual(seen.withLock { $0 }, "flushing")
    }

    func testShutdownWhileAProducerWaits() {
        let discards = Discards()
        let queue = makeQueue(.block, capacity: 1, discards: discards)
        queue.push(1)
        let push = BackgroundPush(queue, 2)
        queue.shutDown()
        XCTAssertEqual(push.result(within: 5), .flushing)
        guard case .shutdown = queue.next() else { return XCTFail("the consumer is told to return") }
        XCTAssertEqual(discards.all.sorted(), [1, 2])
        queue.reset()
        XCTAssertEqual(queue.push(5), .accepted)
        XCTAssertEqual(queue.totalCount, 1, "reset starts the counters again")
    }

    func testCancelledProducerGivesUp() {
        let queue = makeQueue(.block, capacity: 1)
        queue.push(1)
        let cancelled = Atomic<Bool>(false)
        let push = BackgroundPush(queue, 2) { cancelled.load(ordering: .acquiring) }
        XCTAssertNil(push.result(within: 0.2))
        cancelled.store(true, ordering: .releasing)
        queue.wakeProducers()
        XCTAssertEqual(push.result(within: 5), .cancelled)
        XCTAssertEqual(drain(queue, count: 1), [1], "the queue itself is untouched")
    }

    /// A producer that flushes: once its flag is set nothing of its is accepted, even with room,
    /// and what it queued before is taken back (counted, discarded once) while the others' stay
    /// in order; a producer waiting for room is woken by the removal.
    func testCancelledProducerIsRefusedWithRoomAndTakesBackWhatItQueued() {
        let discards = Discards()
        let queue = makeQueue(.block, capacity: 3, discards: discards)
        queue.push(1)
        queue.push(10)  // another producer's
        queue.push(2)
        XCTAssertEqual(queue.push(3) { true }, .cancelled, "cancelled: refused without waiting for room")
        let waiting = BackgroundPush(queue, 20)
        XCTAssertNil(waiting.result(within: 0.2), "the other producer waits for room")
        XCTAssertEqual(queue.discardData { $0 < 10 }, 2)
        XCTAssertEqual(waiting.result(within: 5), .accepted, "the removal made room")
        XCTAssertEqual(queue.push(4) { true }, .cancelled, "with room too")
        XCTAssertEqual(drain(queue, count: 2), [10, 20])
        XCTAssertEqual(discards.all.sorted(), [1, 2, 3, 4])
        XCTAssertEqual(queue.droppedCount, 2)
        XCTAssertEqual(queue.discardData { _ in true }, 0, "nothing left to take back")
    }

    func testRefusalReachesWaitingAndLaterProducers() {
        let queue = makeQueue(.block, capacity: 1)
        queue.push(1)
        let push = BackgroundPush(queue, 2)
        queue.refuse(-5)
        XCTAssertEqual(push.result(within: 5), .refused(-5))
        XCTAssertEqual(queue.push(3), .refused(-5))
        queue.setFlushing(true)
        queue.setFlushing(false)
        XCTAssertEqual(queue.push(4), .accepted, "a new segment clears the refusal")
    }

    func testEndOfStreamDrainsFirstAndIsReportedOnce() {
        let queue = makeQueue(.dropOldest, capacity: 4)
        queue.push(1)
        queue.push(2)
        queue.endStream()
        XCTAssertEqual(queue.push(3), .ended)
        XCTAssertEqual(drain(queue, count: 2), [1, 2])
        guard case .endOfStream(error: nil) = queue.next() else { return XCTFail("the end follows the data") }
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = queue.next()  // nothing more until a flush: it must wait, not spin or repeat the end
            done.signal()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 0.2), .timedOut)
        queue.setFlushing(true)
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
    }

    func testEndOfStreamHandshake() {
        let queue = makeQueue(.dropOldest, capacity: 4)
        queue.push(1)
        let acknowledged = DispatchSemaphore(value: 0)
        let outcome = Mutex<Bool?>(nil)
        Thread.detachNewThread {
            queue.endStream()
            let result = queue.waitUntilEndAcknowledged()
            outcome.withLock { $0 = result }
            acknowledged.signal()
        }
        XCTAssertEqual(drain(queue, count: 1), [1])
        guard case .endOfStream = queue.next() else { return XCTFail("end expected") }
        XCTAssertEqual(acknowledged.wait(timeout: .now() + 0.2), .timedOut, "the producer waits for the consumer")
        queue.acknowledgeEnd()
        XCTAssertEqual(acknowledged.wait(timeout: .now() + 5), .success)
        XCTAssertEqual(outcome.withLock { $0 }, true)

        // A flush interrupts the wait.
        let second = makeQueue(.dropOldest, capacity: 4)
        let interrupted = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            second.endStream()
            let result = second.waitUntilEndAcknowledged()
            outcome.withLock { $0 = result }
            interrupted.signal()
        }
        XCTAssertEqual(interrupted.wait(timeout: .now() + 0.2), .timedOut)
        second.setFlushing(true)
        XCTAssertEqual(interrupted.wait(timeout: .now() + 5), .success)
        XCTAssertEqual(outcome.withLock { $0 }, false)
    }

    /// GstBaseSink's pad deactivation calls unlock and unlock_stop back to back: a flush that
    /// starts and stops between `endStream` and the wait also clears the end (the consumer
    /// will never acknowledge it). The ticket sees it: the wait returns at once. Without it
    /// the producer hung (found by the AddressSanitizer run: trackprocessor's EOS vs NULL).
    func testFlushBetweenEndAndWaitEndsTheWait() {
        let queue = makeQueue(.dropOldest, capacity: 4)
        let ticket = queue.endStream()
        queue.setFlushing(true)
        queue.setFlushing(false)
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<Bool?>(nil)
        Thread.detachNewThread {
            outcome.withLock { $0 = queue.waitUntilEndAcknowledged(since: ticket) }
            done.signal()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success, "the wait saw the flush")
        XCTAssertEqual(outcome.withLock { $0 }, false)
    }

    /// A flush that starts and stops before the waiters run again (GstBaseSink's unlock /
    /// unlock_stop on PLAYING->PAUSED) still ends their waits: the EOS drain returns false
    /// instead of waiting for an end the flush discarded, a blocked producer gets .flushing.
    func testFlushStartAndStopInARowStillEndsTheWaits() {
        for _ in 0..<20 {
            let queue = makeQueue(.block, capacity: 1)
            let outcome = Mutex<Bool?>(nil)
            let returned = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                queue.endStream()
                let result = queue.waitUntilEndAcknowledged()
                outcome.withLock { $0 = result }
                returned.signal()
            }
            while queue.state.ended == false { Thread.sleep(forTimeInterval: 0.001) }
            queue.setFlushing(true)
            queue.setFlushing(false)
            XCTAssertEqual(returned.wait(timeout: .now() + 5), .success, "the EOS drain must not outlive a flush")
            XCTAssertEqual(outcome.withLock { $0 }, false)
        }
        let queue = makeQueue(.block, capacity: 1)
        queue.push(1)
        let push = BackgroundPush(queue, 2)
        XCTAssertNil(push.result(within: 0.1), "waits for room")
        queue.setFlushing(true)
        queue.setFlushing(false)
        XCTAssertEqual(push.result(within: 5), .flushing, "an item that waited through a flush is refused")
    }

    func testAbortCarriesTheReason() {
        let queue = makeQueue(.block, capacity: 1)
        queue.endStream(error: "camera unplugged")
        guard case .endOfStream(error: "camera unplugged") = queue.next() else { return XCTFail("the reason is delivered") }
    }

    func testAsyncConsumer() async {
        let queue = makeQueue(.dropOldest, capacity: 4)
        queue.push(1)
        let first = await queue.nextAsync()
        XCTAssertEqual(first, 1)
        async let waiting = queue.nextAsync()
        try? await Task.sleep(nanoseconds: 20_000_000)
        queue.push(2)
        let second = await waiting
        XCTAssertEqual(second, 2)
        queue.endStream()
        let end = await queue.nextAsync()
        XCTAssertNil(end)
    }

    /// Many producers and one consumer: nothing lost, nothing duplicated, each producer's items in order.
    func testConcurrentProducersKeepTheirOrder() {
        let queue = makeQueue(.block, capacity: 3)
        let producers = 4, perProducer = 2_000
        let group = DispatchGroup()
        for producer in 0..<producers {
            group.enter()
            Thread.detachNewThread {
                for index in 0..<perProducer { queue.push(producer * 1_000_000 + index) }
                group.leave()
            }
        }
        var last = [Int](repeating: -1, count: producers)
        var received = 0
        while received < producers * perProducer {
            guard case .data(let item) = queue.next() else { return XCTFail("only data expected") }
            let producer = item / 1_000_000, index = item % 1_000_000
            XCTAssertEqual(index, last[producer] + 1)
            last[producer] = index
            received += 1
        }
        XCTAssertEqual(group.wait(timeout: .now() + 5), .success)
        XCTAssertEqual(queue.totalCount, UInt64(producers * perProducer))
    }
}
