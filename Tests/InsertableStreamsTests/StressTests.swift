import CGStreamer
import Foundation
import Handoff
import InsertableStreams
import Synchronization
import XCTest

/// Races, state cycles and teardown orders, with frames flowing. The default suite runs a short
/// version of each (a few seconds in all); `INSERTABLE_STREAMS_STRESS=1` (scripts/stress.sh)
/// runs the long ones. Run under ThreadSanitizer by `scripts/sanitizers.sh thread` too.
final class StressTests: XCTestCase {
    override func setUp() {
        _ = TestEnvironment.ready
    }

    override func tearDown() {
        // Every frame object must be gone once its pipeline is (no leaked GstBuffers).
        XCTAssertTrue(waitUntil(2) { MediaFrameStatistics.liveFrames == 0 }, "\(MediaFrameStatistics.liveFrames) frames leaked")
    }

    /// Long runs: INSERTABLE_STREAMS_STRESS=1.
    private static var long: Bool { (getenv("INSERTABLE_STREAMS_STRESS").map { String(cString: $0) } ?? "").isEmpty == false }
    /// A number from the environment (e.g. INSERTABLE_STREAMS_STRESS_CYCLES), or the default for the run.
    private static func setting(_ name: String, short: Int, long longValue: Int) -> Int {
        if let text = getenv(name).map({ String(cString: $0) }), let value = Int(text) { return value }
        return long ? longValue : short
    }

    private static let key1 = "000102030405060708090a0b0c0d0e0f"
    private static let key2 = "101112131415161718191a1b1c1d1e1f"
    private static let key3 = "202122232425262728292a2b2c2d2e2f"

    private static func sframe(_ side: String, _ name: String, options: String) -> String {
        "rtpscripttransform name=\(name) side=\(side) worker=sframe options=\"sframe,\(options)\""
    }

    /// Raw key material (HKDF): a passphrase costs 100,000 PBKDF2 iterations on the worker
    /// thread per set-key, so thousands of them would hold the stream back, as they should.
    private static func framecryptor(_ side: String, _ name: String) -> String {
        "rtpscripttransform name=\(name) side=\(side) worker=framecryptor options=\"framecryptor,key=(string)\(key1),key-index=(int)0\""
    }

    // MARK: (a) eight threads against running elements

    /// Eight threads call `post-message` (sframe set-key/add-key/get-stats, framecryptor
    /// set-key/ratchet-key/get-stats, messages no transform understands), read every readable
    /// property of every element, and emit `generate-key-frame` / `send-key-frame-request`, while
    /// VP8 flows through sframe and framecryptor senders and receivers and raw video through a
    /// trackprocessor into a trackgenerator. Frames keep flowing, no error reaches the bus, the
    /// counters stay consistent, and once the storm is over a fresh key on both ends decrypts.
    func testEightThreadsHammerRunningElements() throws {
        let seconds = Double(Self.setting("INSERTABLE_STREAMS_STRESS_SECONDS", short: 2, long: 60))
        let pipeline = try TestPipeline("""
            videotestsrc is-live=true pattern=ball ! video/x-raw,width=160,height=120,framerate=30/1 ! \
            vp8enc deadline=1 keyframe-max-dist=60 ! tee name=split \
            split. ! queue ! \(Self.sframe("send", "ss", options: "key=(string)\(Self.key1),key-id=(guint64)1")) ! \
              rtpvp8pay ! rtpvp8depay ! \
              \(Self.sframe("receive", "sr", options: "keys=(string)\\\"1:\(Self.key1),2:\(Self.key2)\\\"")) ! fakesink name=sout \
            split. ! queue ! \(Self.framecryptor("send", "fs")) ! rtpvp8e2eepay ! rtpvp8depay ! \
              \(Self.framecryptor("receive", "fr")) ! fakesink name=fout \
            videotestsrc is-live=true ! video/x-raw,format=RGBA,width=64,height=48,framerate=100/1 ! \
              trackprocessor name=proc worker="sepia ! mirror" pipe-to=stressgen \
            trackgenerator name=stressgen ! fakesink name=pout
            """)
        let sframeOut = pipeline.collect("sout"), cryptorOut = pipeline.collect("fout"), rawOut = pipeline.collect("pout")
        let sframeReceiver = SignalRecorder(pipeline.element("sr"), signal: "message")
        let cryptorReceiver = SignalRecorder(pipeline.element("fr"), signal: "message")
        pipeline.play()
        XCTAssertTrue(waitUntil(10) { sframeOut.count >= 10 && cryptorOut.count >= 10 && rawOut.count >= 10 },
                      "frames before the storm: \(sframeOut.count) \(cryptorOut.count) \(rawOut.count) \(pipeline.messages)")

        let names = ["ss", "sr", "fs", "fr", "proc", "stressgen"]
        let elements = names.map { pipeline.element($0) }
        for element in elements { gst_object_ref(element) }
        defer { for element in elements { gst_object_unref(element) } }
        let element = Dictionary(uniqueKeysWithValues: zip(names, elements.map { UInt(bitPattern: $0) }))
        @Sendable func pointer(_ name: String) -> UnsafeMutablePointer<GstElement> {
            UnsafeMutablePointer(bitPattern: element[name]!)!
        }
        // Sender keys alternate between ids 1 and 2, both of which the receiver holds; the
        // framecryptor receivers get the same key at index 1 as the sender, and ratchet
        // steps stay within the receivers' window (8) only loosely: their refusals are counted,
        // not asserted, since eight threads ratcheting at once outrun any window.
        let operations: [(String, @Sendable (Int) -> Bool)] = [
            ("sframe set-key", { i in postMessage(pointer("ss"), "set-key, key-id=(guint64)\(i % 2 + 1), key=(string)\(i % 2 == 0 ? Self.key1 : Self.key2)"); return true }),
            ("sframe add-key", { _ in postMessage(pointer("sr"), "add-key, key-id=(guint64)2, key=(string)\(Self.key2)"); return true }),
            ("sframe get-stats", { i in postMessage(pointer(i % 2 == 0 ? "ss" : "sr"), "get-stats"); return true }),
            ("framecryptor set-key", { i in
                postMessage(pointer(i % 2 == 0 ? "fs" : "fr"), "set-key, key=(string)\(Self.key2), key-index=(int)1"); return true }),
            ("framecryptor ratchet-key", { _ in postMessage(pointer("fs"), "ratchet-key, key-index=(int)0"); return true }),
            ("framecryptor get-stats", { i in postMessage(pointer(i % 2 == 0 ? "fs" : "fr"), "get-stats"); return true }),
            ("unknown message", { i in postMessage(pointer(["proc", "ss", "fr"][i % 3]), "stress-ping, n=(int)\(i)"); return true }),
            ("property reads", { _ in for name in names { readEveryProperty(pointer(name)) }; return true }),
            ("generate-key-frame", { i in emitBool(pointer(i % 2 == 0 ? "ss" : "fs"), "generate-key-frame", nil) }),
            ("send-key-frame-request", { i in emitBool(pointer(i % 2 == 0 ? "sr" : "fr"), "send-key-frame-request") }),
        ]
        let tally = StressTally(operations: operations.count)
        let framesBefore = (sframeOut.count, rawOut.count, pipeline.uint64("fr", "total-frames"))
        let deadline = g_get_monotonic_time() + gint64(seconds * 1e6)
        let done = DispatchGroup()
        for thread in 0..<8 {
            done.enter()
            let worker = Thread {
                var iteration = thread
                while g_get_monotonic_time() < deadline {
                    let index = iteration % operations.count
                    if !operations[index].1(iteration) { tally.refused.withLock { $0.state.append(operations[index].0) } }
                    tally.calls.withLock { $0.state[index] += 1 }
                    iteration += 1
                    // Paced (at most 200 calls a second per thread): post-message commands queue on
                    // the element's worker ahead of frames, so an unpaced flood, faster than the
                    // worker, starves the frames (seen in a 60 s run under ThreadSanitizer).
                    g_usleep(5_000)
                }
                done.leave()
            }
            worker.name = "stress-\(thread)"
            worker.start()
        }
        // Frames keep flowing while the threads run.
        XCTAssertTrue(waitUntil(seconds + 5) { sframeOut.count >= framesBefore.0 + 10 && rawOut.count >= framesBefore.1 + 10 },
                      "frames during the storm: sframe \(sframeOut.count - framesBefore.0), raw \(rawOut.count - framesBefore.1)")
        XCTAssertEqual(done.wait(timeout: .now() + seconds + 60), .success, "the eight threads did not finish")
        let counts = tally.calls.withLock { $0.state }
        print("stress: \(counts.reduce(0, +)) calls in \(seconds) s over 8 threads: "
              + zip(operations, counts).map { "\($0.0)=\($1)" }.joined(separator: ", "))
        XCTAssertTrue(counts.allSatisfy { $0 > 0 }, "\(counts)")
        pipeline.drainBus()
        XCTAssertEqual(tally.refused.withLock { $0.state }, [], "key frame signals refused while running: \(pipeline.warnings.map(\.text).suffix(6))")
        // (On a loaded machine the framecryptor branch may lag behind its stream of key commands.)
        XCTAssertTrue(waitUntil(10) { pipeline.uint64("fr", "total-frames") > framesBefore.2 }, "framecryptor receiver kept receiving")

        // Counters stay consistent: nothing written that was not handed in.
        for name in ["ss", "sr", "fs", "fr"] {
            let total = pipeline.uint64(name, "total-frames"), written = pipeline.uint64(name, "written-frames")
            let rejected = pipeline.uint64(name, "rejected-frames")
            XCTAssertLessThanOrEqual(written + rejected, total, name)
            XCTAssertEqual(rejected, 0, "\(name) rejected frames")
            XCTAssertGreaterThan(written, 0, name)
        }

        // After the storm: a key neither end has seen, receiver first, decrypts on both paths.
        postMessage(pointer("sr"), "add-key, key-id=(guint64)3, key=(string)\(Self.key3)")
        XCTAssertTrue(waitUntil { sframeReceiver.values.contains { Self.list($0, "sframe-keys", "key-ids").contains("3") } }, "\(sframeReceiver.values.suffix(3))")
        postMessage(pointer("ss"), "set-key, key-id=(guint64)3, key=(string)\(Self.key3)")
        postMessage(pointer("fr"), "set-key, key=(string)\(Self.key3), key-index=(int)2")
        XCTAssertTrue(waitUntil { cryptorReceiver.values.contains { Self.list($0, "framecryptor-keys", "key-indices").contains("2") } },
                      "\(cryptorReceiver.values.suffix(3))")
        postMessage(pointer("fs"), "set-key, key=(string)\(Self.key3), key-index=(int)2")
        let after = (sframeOut.count, cryptorOut.count)
        XCTAssertTrue(waitUntil(10) { sframeOut.count >= after.0 + 15 && cryptorOut.count >= after.1 + 15 },
                      "decrypted after the storm: sframe \(sframeOut.count - after.0), framecryptor \(cryptorOut.count - after.1)")
        pipeline.drainBus()
        XCTAssertEqual(pipeline.errors.count, 0, "\(pipeline.errors)")
        XCTAssertEqual(pipeline.setState(GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS)
    }

    /// The comma-separated list `field` of a message named `name`, or nothing.
    private static func list(_ text: String, _ name: String, _ field: String) -> [Substring] {
        guard let message = try? TransformMessage(parsing: text), message.name == name else { return [] }
        return message.string(field)?.split(separator: ",") ?? []
    }

    // MARK: (b) PLAYING/NULL cycles with data flowing

    /// Every element in one pipeline (processor into generator, framecryptor through
    /// rtpvp8e2eepay, sframe on Opus), set to PLAYING and NULL again and again: each cycle
    /// reaches PLAYING and carries frames on every branch.
    func testPlayingNullCyclesWithDataFlowing() throws {
        let cycles = Self.setting("INSERTABLE_STREAMS_STRESS_CYCLES", short: 20, long: 1000)
        let pipeline = try TestPipeline("""
            videotestsrc is-live=true ! video/x-raw,format=RGBA,width=64,height=48,framerate=100/1 ! \
              trackprocessor name=proc worker="sepia ! mirror" pipe-to=cyclegen trackgenerator name=cyclegen ! fakesink name=raw \
            videotestsrc is-live=true ! video/x-raw,width=64,height=48,framerate=100/1 ! vp8enc deadline=1 ! \
              \(Self.framecryptor("send", "fs")) ! rtpvp8e2eepay ! rtpvp8depay ! \(Self.framecryptor("receive", "fr")) ! fakesink name=vp8 \
            audiotestsrc is-live=true samplesperbuffer=480 ! opusenc frame-size=10 ! \
              \(Self.sframe("send", "ss", options: "key=(string)\(Self.key1),key-id=(guint64)1")) ! rtpopuspay ! rtpopusdepay ! \
              \(Self.sframe("receive", "sr", options: "key=(string)\(Self.key1),key-id=(guint64)1")) ! fakesink name=opus
            """)
        let outputs = ["raw", "vp8", "opus"].map { ($0, pipeline.collect($0)) }
        let started = g_get_monotonic_time()
        for cycle in 0..<cycles {
            let before = outputs.map { $0.1.count }
            XCTAssertNotEqual(pipeline.play(), GST_STATE_CHANGE_FAILURE, "cycle \(cycle)")
            let flowed = waitUntil(10) { zip(outputs, before).allSatisfy { $0.1.count > $1 } }
            var state = GST_STATE_VOID_PENDING, pending = GST_STATE_VOID_PENDING
            let reached = gst_element_get_state(pipeline.pipeline, &state, &pending, 5 * 1_000_000_000)
            XCTAssertTrue(flowed, "cycle \(cycle): frames on \(zip(outputs, before).filter { $0.1.count <= $1 }.map(\.0.0))")
            XCTAssertTrue(reached == GST_STATE_CHANGE_SUCCESS && state == GST_STATE_PLAYING, "cycle \(cycle) state \(state.rawValue)")
            XCTAssertEqual(pipeline.setState(GST_STATE_NULL, timeout: 5), GST_STATE_CHANGE_SUCCESS, "cycle \(cycle)")
            if !flowed || state != GST_STATE_PLAYING { break }
            if Self.long, (cycle + 1) % 100 == 0 {
                print("stress: \(cycle + 1) cycles, \((g_get_monotonic_time() - started) / 1000) ms")
            }
        }
        print("stress: \(cycles) PLAYING/NULL cycles in \((g_get_monotonic_time() - started) / 1000) ms; frames "
              + outputs.map { "\($0.0)=\($0.1.count)" }.joined(separator: " "))
        pipeline.drainBus()
        XCTAssertEqual(pipeline.errors.count, 0, "\(pipeline.errors)")
    }

    // MARK: (c) processor and generator in two pipelines, torn down in random orders

    /// A processor and a generator joined by `pipe-to` across two pipelines: created, started
    /// and torn down (set to NULL, then released) in seeded random orders while frames flow.
    /// Each cycle delivers frames; afterwards both elements and their channel are gone.
    func testTwoPipelinesTornDownInRandomOrders() throws {
        let cycles = Self.setting("INSERTABLE_STREAMS_STRESS_TEARDOWNS", short: 12, long: 500)
        let seed = UInt64(Self.setting("INSERTABLE_STREAMS_STRESS_SEED", short: Int(g_get_real_time() & 0xffff_ffff),
                                       long: Int(g_get_real_time() & 0xffff_ffff)))
        print("stress: teardown orders seed \(seed) (INSERTABLE_STREAMS_STRESS_SEED=\(seed) repeats them)")
        var random = SeededRandom(seed: seed)
        let live = "videotestsrc is-live=true ! video/x-raw,format=RGBA,width=32,height=24,framerate=100/1"
        var orders: [String: Int] = [:]
        for cycle in 0..<cycles {
            let channelName = "teardown\(cycle % 3)"
            let processorFirst = random.next() % 2 == 0
            let startProcessorFirst = random.next() % 2 == 0
            let stopProcessorFirst = random.next() % 2 == 0
            let releaseProcessorFirst = random.next() % 2 == 0
            let worker = ["", " worker=mirror", " worker=\"sepia ! invert\""][Int(random.next() % 3)]
            orders["\(processorFirst)\(startProcessorFirst)\(stopProcessorFirst)\(releaseProcessorFirst)", default: 0] += 1
            let what = "cycle \(cycle) seed \(seed): created \(processorFirst ? "processor" : "generator") first, started \(startProcessorFirst ? "processor" : "generator") first, stopped \(stopProcessorFirst ? "processor" : "generator") first, released \(releaseProcessorFirst ? "processor" : "generator") first"

            var producer: TestPipeline?, consumer: TestPipeline?
            func makeProducer() throws { producer = try TestPipeline("\(live) ! trackprocessor name=proc\(worker) pipe-to=\(channelName) max-buffer-size=2") }
            func makeConsumer() throws { consumer = try TestPipeline("trackgenerator name=\(channelName) ! fakesink name=out") }
            if processorFirst { try makeProducer(); try makeConsumer() } else { try makeConsumer(); try makeProducer() }
            let output = consumer!.collect("out")
            let processorGone = WeakObject(producer!.element("proc")), generatorGone = WeakObject(consumer!.element(channelName))
            if startProcessorFirst { producer!.play(); consumer!.play() } else { consumer!.play(); producer!.play() }
            weak let channel = FrameChannel.named(channelName)
            XCTAssertTrue(waitUntil(10) { output.count >= 3 }, "\(what): no frames")
            for stopProducer in stopProcessorFirst ? [true, false] : [false, true] {
                let pipeline = stopProducer ? producer! : consumer!
                XCTAssertEqual(pipeline.setState(GST_STATE_NULL, timeout: 5), GST_STATE_CHANGE_SUCCESS, what)
                pipeline.drainBus()
                XCTAssertEqual(pipeline.errors.count, 0, "\(what): \(pipeline.errors)")
            }
            if releaseProcessorFirst { producer = nil; consumer = nil } else { consumer = nil; producer = nil }
            XCTAssertTrue(processorGone.isGone, "\(what): the trackprocessor was not finalized")
            XCTAssertTrue(generatorGone.isGone, "\(what): the trackgenerator was not finalized")
            XCTAssertNil(channel, "\(what): the channel outlived both ends")
            if channel != nil || !processorGone.isGone || !generatorGone.isGone { break }
        }
        print("stress: \(cycles) two-pipeline teardowns, seed \(seed), orders (created/started/stopped/released processor first) \(orders.sorted { $0.key < $1.key })")
    }
}

/// The hand-off queue's async consumer (`for await frame in processor.readable`) across the
/// owner's reset and flush-stop, which an element does when it starts: a ThreadSanitizer run of
/// SwiftAPITests.testReadableIsAnAsyncSequence hung because the reset dropped the waiting
/// consumer's continuation without resuming it.
final class AsyncConsumerHandoffTests: XCTestCase {
    func testAsyncConsumerWaitingAcrossResetAndFlushStopGetsTheNextItem() async {
        for step in ["reset", "flush-stop", "both"] {
            let queue = HandoffQueue<Int, Never>(policy: .dropOldest, capacity: 2)
            let consumer = Task { await queue.nextAsync() }
            // Let the consumer park (if it has not yet, the test passes without proving much).
            try? await Task.sleep(nanoseconds: 100_000_000)
            if step != "flush-stop" { queue.reset() }
            if step != "reset" { queue.setFlushing(false) }
            queue.push(7)
            let received = await consumer.value
            XCTAssertEqual(received, 7, step)
        }
    }

    /// An item that does not count toward capacity wakes the async consumer too.
    func testUncountedItemWakesTheAsyncConsumer() async {
        let queue = HandoffQueue<Int, Never>(policy: .dropOldest, capacity: 1,
                                             handlers: .init(countsTowardCapacity: { $0 >= 0 }))
        let consumer = Task { () -> [Int?] in [await queue.nextAsync(), await queue.nextAsync()] }
        try? await Task.sleep(nanoseconds: 100_000_000)
        queue.push(-1)
        queue.push(5)
        queue.endStream()
        let received = await consumer.value
        XCTAssertEqual(received, [-1, 5])
    }
}

/// What the eight threads did. A pthread lock (Handoff's ConditionLock), not Synchronization's
/// Mutex: under contention Mutex waits in the uninstrumented Swift runtime (a futex), so
/// ThreadSanitizer would not see its hand-over between these eight threads.
final class StressTally: Sendable {
    let calls: ConditionLock<[Int]>
    let refused = ConditionLock<[String]>([])
    init(operations: Int) { calls = ConditionLock([Int](repeating: 0, count: operations)) }
}

/// Reads every readable property of `element` (what gst-inspect or a monitoring thread would do).
func readEveryProperty(_ element: UnsafeMutablePointer<GstElement>) {
    let object = UnsafeMutableRawPointer(element).assumingMemoryBound(to: GObject.self)
    let objectClass = UnsafeMutableRawPointer(object.pointee.g_type_instance.g_class!).assumingMemoryBound(to: GObjectClass.self)
    var count: guint = 0
    guard let specs = g_object_class_list_properties(objectClass, &count) else { return }
    defer { g_free(specs) }
    for index in 0..<Int(count) {
        guard let spec = specs[index], spec.pointee.flags.rawValue & G_PARAM_READABLE.rawValue != 0 else { continue }
        var value = GValue()
        g_value_init(&value, spec.pointee.value_type)
        g_object_get_property(object, spec.pointee.name, &value)
        g_value_unset(&value)
    }
}

/// A GObject weak pointer: becomes nil when the object is finalized.
final class WeakObject {
    private let slot = UnsafeMutablePointer<gpointer?>.allocate(capacity: 1)
    private let object: UnsafeMutablePointer<GObject>

    init(_ element: UnsafeMutablePointer<GstElement>) {
        object = UnsafeMutableRawPointer(element).assumingMemoryBound(to: GObject.self)
        slot.initialize(to: UnsafeMutableRawPointer(element))
        g_object_add_weak_pointer(object, slot)
    }

    var isGone: Bool { slot.pointee == nil }

    deinit {
        if let alive = slot.pointee { g_object_remove_weak_pointer(alive.assumingMemoryBound(to: GObject.self), slot) }
        slot.deallocate()
    }
}

/// splitmix64: the same seed gives the same orders.
struct SeededRandom {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
