/// Transformers connected in sequence (`worker="sepia ! mirror"`), ending at the host. Each
/// stage's `enqueue` calls the next stage directly: one worker thread, no queue between stages.
public final class TransformChain<Frame> {
    public let stages: [any StreamTransformer<Frame>]
    private let controllers: [StreamController<Frame>]
    /// Where a frame enters: a controller whose next stage is the first one (the host when
    /// there are no stages); it is given to no transformer.
    @usableFromInline let head: StreamController<Frame>

    public init(stages: [any StreamTransformer<Frame>], host: any TransformHost<Frame>) {
        self.stages = stages
        var next: (stage: any StreamTransformer<Frame>, controller: StreamController<Frame>)?
        var built: [StreamController<Frame>] = []
        for stage in stages.reversed() {
            let controller = StreamController(host: host, next: next)
            built.append(controller)
            next = (stage, controller)
        }
        controllers = built.reversed()
        head = StreamController(host: host, next: next)
    }

    public func start() throws {
        for (stage, controller) in zip(stages, controllers) { try stage.start(controller: controller) }
    }

    /// Runs one frame through every stage.
    @inlinable
    public func process(_ frame: Frame) throws { try head.passOn(frame) }

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
