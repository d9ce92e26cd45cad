import TransformCore
import XCTest

/// The generic transform core with a frame type of its own: no GStreamer involved.
final class TransformCoreTests: XCTestCase {
    struct Number: TransformableFrame, Equatable {
        static var transformNoun: String { "number transform" }
        var value: Int
    }

    final class Host: TransformHost, @unchecked Sendable {
        typealias Frame = Number
        var written: [Int] = []
        var posted: [TransformMessage] = []
        var scheduled: [@Sendable () throws -> Void] = []
        var onWorker = true
        func write(_ frame: Number) throws { written.append(frame.value) }
        var isOnWorkerThread: Bool { onWorker }
        func schedule(_ work: @escaping @Sendable () throws -> Void) { scheduled.append(work) }
        func post(_ message: TransformMessage) { posted.append(message) }
    }

    final class Add: StreamTransformer {
        let amount: Int
        var started = false
        init(_ amount: Int) { self.amount = amount }
        func start(controller: StreamController<Number>) throws { started = true }
        func transform(_ frame: Number, controller: StreamController<Number>) throws {
            try controller.enqueue(Number(value: frame.value + amount))
        }
        func receive(message: TransformMessage, controller: StreamController<Number>) throws {
            controller.postMessage(TransformMessage("seen", ["by": .int(amount)]))
        }
    }

    /// Holds every frame back and emits their sum at the end of the stream.
    final class Sum: StreamTransformer {
        var total = 0
        func transform(_ frame: Number, controller: StreamController<Number>) throws { total += frame.value }
        func flush(controller: StreamController<Number>) throws { try controller.enqueue(Number(value: total)) }
    }

    func testChainRunsStagesInOrderAndFlushesThroughLaterStages() throws {
        let host = Host()
        let add = Add(10)
        let chain = TransformChain<Number>(stages: [Sum(), add, IdentityTransformer<Number>()], host: host)
        try chain.start()
        XCTAssertTrue(add.started)
        for value in 1...4 { try chain.process(Number(value: value)) }
        XCTAssertEqual(host.written, [])
        try chain.flush()
        XCTAssertEqual(host.written, [20], "Sum's flush output passed through Add")
        try chain.deliver(TransformMessage("ping"))
        XCTAssertEqual(host.posted, [TransformMessage("seen", ["by": .int(10)])])
    }

    func testEnqueueFromAnotherThreadIsScheduledOnTheWorker() throws {
        let host = Host()
        let chain = TransformChain<Number>(stages: [Add(1)], host: host)
        host.onWorker = false
        try chain.process(Number(value: 1))
        XCTAssertEqual(host.written, [], "not written from the wrong thread")
        XCTAssertEqual(host.scheduled.count, 1)
        host.onWorker = true
        try host.scheduled[0]()
        XCTAssertEqual(host.written, [2])
    }

    func testCatalogResolvesNamesAndParameters() throws {
        TransformCatalog<Number>.register(RegisteredTransform(
            name: "add", summary: "adds", parameters: [TransformParameterInfo("amount", "how much")]) { parameters, _ in
            Add(try parameters.integer("amount", default: 1, range: 0...100))
        })
        TransformCatalog<Number>.register(RegisteredTransform(name: "identity", summary: "as is") { _, _ in IdentityTransformer<Number>() })
        XCTAssertEqual(TransformCatalog<Number>.names, ["add", "identity"])
        let host = Host()
        let stages = try TransformCatalog<Number>.makeTransformers("add amount=5 ! identity ! add", context: TransformContext(elementName: "e"))
        let chain = TransformChain(stages: stages, host: host)
        try chain.process(Number(value: 1))
        XCTAssertEqual(host.written, [7])
        XCTAssertThrowsError(try TransformCatalog<Number>.makeTransformers("nope", context: TransformContext(elementName: "e"))) {
            // Modules that other tests of the process failed to load are listed after "; not loaded:".
            let text = "\($0)"
            XCTAssertTrue(text == "unknown number transform 'nope' in worker \"nope\"; known number transforms: add, identity"
                          || text.hasPrefix("unknown number transform 'nope' in worker \"nope\"; known number transforms: add, identity; not loaded: "), text)
        }
        TransformLoadProblems.record("module /m/libx.so could not be opened: test")
        XCTAssertThrowsError(try TransformCatalog<Number>.makeTransformers("nope", context: TransformContext(elementName: "e"))) {
            XCTAssertTrue("\($0)".contains("; not loaded: ") && "\($0)".contains("module /m/libx.so could not be opened: test"), "\($0)")
        }
        XCTAssertThrowsError(try TransformCatalog<Number>.makeTransformers("add amount=500", context: TransformContext(elementName: "e"))) {
            XCTAssertTrue("\($0)".contains("amount=500 is invalid; amount must be an integer from 0 to 100 (default 1)"), "\($0)")
        }
        XCTAssertThrowsError(try TransformCatalog<Number>.makeTransformers("add by=2", context: TransformContext(elementName: "e"))) {
            XCTAssertEqual("\($0)", "transform 'add' has no parameter 'by'; its parameters are: amount")
        }
    }

    func testWorkerGrammar() throws {
        let parsed = try WorkerDescription(parsing: " blur radius=8 ! pip source=\"my cam\" position=top-left ")
        XCTAssertEqual(parsed.steps, [.init(name: "blur", values: ["radius": "8"]),
                                      .init(name: "pip", values: ["source": "my cam", "position": "top-left"])])
        for (text, expected) in [("", "worker is empty"), ("a ! ! b", "step 2 is empty"), ("a x", "'x' is not a key=value parameter"),
                                 ("a k=1 k=2", "parameter 'k' is given twice"), ("a k=\"open", "unbalanced double quote"),
                                 ("k=1", "step 1 starts with 'k=1'")] {
            XCTAssertThrowsError(try WorkerDescription(parsing: text)) { XCTAssertTrue("\($0)".contains(expected), "\(text): \($0)") }
        }
    }

    func testMessageTextIsGstStructureSyntax() {
        var message = TransformMessage("keys", ["key-id": .uint(3), "big": .int(9_000_000_000), "label": .string("a b\"c"),
                                                "on": .bool(true), "key": .bytes([0, 255, 16]), "ratio": .double(0.5)])
        XCTAssertEqual(message.description,
                       "keys, key-id=(uint)3, big=(gint64)9000000000, label=(string)\"a\\ b\\\"c\", on=(boolean)true, key=(buffer)00ff10, ratio=(double)0.5;")
        message["label"] = nil
        XCTAssertNil(message.string("label"))
        XCTAssertEqual(message.integer("key-id"), 3)
        XCTAssertEqual(message.bytes("key"), [0, 255, 16])
        XCTAssertEqual(TransformMessage("pong").description, "pong;")
    }
}
