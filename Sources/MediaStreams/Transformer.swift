@_exported import TransformCore

/// A transform over raw frames (`VideoFrame` / `AudioData`): a `StreamTransformer` of
/// `MediaFrame`, plus what the processor negotiates with (formats and kinds it accepts).
public protocol FrameTransformer: StreamTransformer where Frame == MediaFrame {
    /// Raw video formats this transformer can process; nil for any. The processor refuses caps
    /// outside this set, so upstream converts (e.g. `videoconvert`) during negotiation.
    var supportedVideoFormats: Set<VideoPixelFormat>? { get }
    /// Kinds of tracks this transformer processes (it is not offered caps of the others).
    var supportedKinds: Set<TrackKind> { get }
}

extension FrameTransformer {
    public var supportedVideoFormats: Set<VideoPixelFormat>? { nil }
    public var supportedKinds: Set<TrackKind> { [.video, .audio] }
}

/// `TransformStreamDefaultController` for raw frames.
public typealias TransformController = StreamController<MediaFrame>
/// The transforms `trackprocessor`'s `worker` can name.
public typealias TransformRegistry = TransformCatalog<MediaFrame>
/// A raw-frame transform `worker` can name.
public typealias TransformDescriptor = RegisteredTransform<MediaFrame>

extension MediaFrame: TransformableFrame {
    public static var transformNoun: String { "transform" }
}

extension TransformChain where Frame == MediaFrame {
    /// Formats every stage accepts; nil when none restricts them.
    public var supportedVideoFormats: Set<VideoPixelFormat>? {
        intersection { ($0 as? any FrameTransformer)?.supportedVideoFormats }
    }

    public var supportedKinds: Set<TrackKind> {
        intersection { ($0 as? any FrameTransformer)?.supportedKinds } ?? [.video, .audio]
    }
}

extension TransformContext {
    /// The frame ring of another `trackprocessor` of the process, by element name (secondary inputs).
    public func processorRing(_ name: String) -> FrameRing? { resolve(name) as? FrameRing }
}
