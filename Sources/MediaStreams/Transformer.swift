/// A transform over frames, written like the transformer of a web `TransformStream`:
/// `start`, then `transform` once per frame, then `flush` at the end of the stream. Each call
/// gets a controller whose `enqueue` passes frames on (zero, one or several per input).
///
/// Transformers run on their element's dedicated worker thread, one call at a time, so they
/// may keep plain mutable state. A transformer that throws loses that frame only: the element
/// posts a warning and the stream continues.
public protocol FrameTransformer: AnyObject {
    func start(controller: TransformController) throws
    func transform(_ frame: MediaFrame, controller: TransformController) throws
    func flush(controller: TransformController) throws
    /// Raw video formats this transformer can process; nil for any. The processor refuses caps
    /// outside this set, so upstream converts (e.g. `videoconvert`) during negotiation.
    var supportedVideoFormats: Set<VideoPixelFormat>? { get }
    /// Kinds of tracks this transformer processes (it is not offered caps of the others).
    var supportedKinds: Set<TrackKind> { get }
}

extension FrameTransformer {
    public func start(controller: TransformController) throws {}
    public func flush(controller: TransformController) throws {}
    public var supportedVideoFormats: Set<VideoPixelFormat>? { nil }
    public var supportedKinds: Set<TrackKind> { [.video, .audio] }
}

/// `TransformStreamDefaultController`: what a transformer uses to emit frames.
public final class TransformController {
    private let downstream: (MediaFrame) throws -> Void

    init(downstream: @escaping (MediaFrame) throws -> Void) {
        self.downstream = downstream
    }

    /// Passes `frame` to the next transform, or to the writable at the end of the chain.
    public func enqueue(_ frame: MediaFrame) throws {
        try downstream(frame)
    }
}

/// Transformers connected in sequence (`sepia ! mirror`), ending in `sink`. Each stage's
/// `enqueue` calls the next stage directly: one worker thread, no queue between stages.
public final class TransformChain {
    public let stages: [FrameTransformer]
    private var controllers: [TransformController] = []

    public init(stages: [FrameTransformer], sink: @escaping (MediaFrame) throws -> Void) {
        self.stages = stages
        var next = sink
        var built: [TransformController] = []
        for stage in stages.reversed() {
            let controller = TransformController(downstream: next)
            built.append(controller)
            next = { [unowned stage, unowned controller] frame in try stage.transform(frame, controller: controller) }
        }
        controllers = built.reversed()
        entry = next
    }

    private var entry: (MediaFrame) throws -> Void = { _ in }

    public func start() throws {
        for (stage, controller) in zip(stages, controllers) { try stage.start(controller: controller) }
    }

    /// Runs one frame through every stage.
    public func process(_ frame: MediaFrame) throws { try entry(frame) }

    /// End of stream: each stage flushes in order, so what a stage emits on flush still passes
    /// through the stages after it.
    public func flush() throws {
        for (stage, controller) in zip(stages, controllers) { try stage.flush(controller: controller) }
    }

    /// Formats every stage accepts; nil when none restricts them.
    public var supportedVideoFormats: Set<VideoPixelFormat>? {
        stages.compactMap(\.supportedVideoFormats).reduce(nil) { result, formats in
            result.map { $0.intersection(formats) } ?? formats
        }
    }

    public var supportedKinds: Set<TrackKind> {
        stages.reduce([.video, .audio]) { $0.intersection($1.supportedKinds) }
    }
}
