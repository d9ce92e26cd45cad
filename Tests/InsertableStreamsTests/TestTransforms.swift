import InsertableStreams

/// Transforms only the tests register.
enum TestTransforms {
    static func register() {
        TransformRegistry.register(TransformDescriptor(
            name: "fail-odd", summary: "throws on every second frame (tests)") { _, _ in FailOdd() })
    }
}

struct OddFrameError: Error, CustomStringConvertible {
    let index: Int
    var description: String { "test transform refuses odd frame #\(index)" }
}

/// Throws on frames 1, 3, 5, ...: the element must drop those, warn, and go on.
final class FailOdd: FrameTransformer {
    private var index = 0
    func transform(_ frame: MediaFrame, controller: TransformController) throws {
        defer { index += 1 }
        if index % 2 == 1 { throw OddFrameError(index: index) }
        try controller.enqueue(frame)
    }
}
