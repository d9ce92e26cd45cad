/// Transformers connected in sequence (`worker="sepia ! mirror"`), ending at the host. Each
/// stage's `enqueue` calls the next stage directly: one worker thread, no queue between stages.
/// The host outlives the chain (its owner).
public final class TransformChain<Frame> {
    public let stages: [any StreamTransformer<Frame>]
    private let controllers: [StreamController<Frame>]
    /// The first stage and its controller (nil without stages: frames go to the host).
    @usableFromInline let firstStage: (any StreamTransformer<Frame>)?
    @usableFromInline let firstController: StreamController<Frame>?
    @usableFromInline unowned(unsafe) let host: any TransformHost<Frame>

    public init(stages: [any StreamTransformer<Frame>], host: any TransformHost<Frame>) {
        self.stages = stages
        self.host = host
        var next: (stage: any StreamTransformer<Frame>, controller: StreamController<Frame>)?
        var built: [StreamController<Frame>] = []
        for stage in stages.reversed() {
            let controller = StreamController(host: host, next: next)
            built.append(controller)
            next = (stage, controller)
        }
        controllers = built.reversed()
        firstStage = next?.stage
        firstController = next?.controller
    }

    public func start() throws {
        for (stage, controller) in zip(stages, controllers) { try stage.start(controller: controller) }
    }

    /// Runs one frame through every stage.
    @inlinable
    public func process(_ frame: Frame) throws {
        if let firstStage, let firstController {
            try firstStage.transform(frame, controller: firstController)
        } else {
            try host.write(frame)
        }
    }

    /// End of stream: each stage flushes in order, so what a stage emits on flush still passes
    /// through the stages after it.
    public func flush() throws {
        for (stage, controller) in zip(stages, controllers) { try stage.flush(controller: controller) }
    }

    /// Every stage receives the message, in order.
    public func deliver(_ message: TransformMessage) throws {
        for (stage, controller) in zip(stages, controllers) { try stage.receive(message: message, controller: controller) }
    }

    /// Each stage with the controller it was given, for frame-specific calls (key frame requests).
    public func forEachStage(_ body: (any StreamTransformer<Frame>, StreamController<Frame>) throws -> Void) rethrows {
        for (stage, controller) in zip(stages, controllers) { try body(stage, controller) }
    }

    /// The intersection of what the stages accept; nil when none restricts it.
    public func intersection<Value>(_ restriction: (any StreamTransformer<Frame>) -> Set<Value>?) -> Set<Value>? {
        stages.compactMap(restriction).reduce(nil) { result, values in result.map { $0.intersection(values) } ?? values }
    }
}
