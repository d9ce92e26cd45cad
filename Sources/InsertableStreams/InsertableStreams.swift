@_exported import EncodedStreams
@_exported import MediaStreams
import BuiltinTransforms
import CGStreamer
import GStreamerBridge

/// Entry points for applications and for the plugin.
public enum InsertableStreams {
    /// Registers `trackprocessor`, `trackgenerator` and `rtpscripttransform` (and the built-in
    /// transforms).
    ///
    /// The plugin calls this with its GstPlugin. A Swift application that links this library
    /// calls it with no plugin after `gst_init`, so that the elements it creates are the Swift
    /// types of its own process and `TrackProcessor(element:)` can reach them.
    @discardableResult
    public static func registerElements(plugin: OpaquePointer? = nil) -> Bool {
        BuiltinTransforms.registerAll()
        AppTransform.register()
        let processor = registerElement(TrackProcessorElement.self, name: "trackprocessor", plugin: plugin)
        let generator = registerElement(TrackGeneratorElement.self, name: "trackgenerator", plugin: plugin)
        let scriptTransform = registerElement(RtpScriptTransformElement.self, name: "rtpscripttransform", plugin: plugin)
        return processor && generator && scriptTransform
    }
}

/// Errors of the Swift API around the elements.
public struct InsertableStreamsError: Error, CustomStringConvertible {
    public let description: String
}

/// Swift handle on a `trackprocessor` element created in this process.
public final class TrackProcessor: Sendable {
    private let element: TrackProcessorElement

    /// `element` must be a `trackprocessor` registered by `InsertableStreams.registerElements()`.
    public init(element: UnsafeMutablePointer<GstElement>) throws {
        guard let found = TypeRegistry.implementation(of: element) as? TrackProcessorElement else {
            throw InsertableStreamsError(description: "element is not a trackprocessor of this process (call InsertableStreams.registerElements() before creating it)")
        }
        self.element = found
    }

    /// The frames, as an AsyncSequence, when no worker is set (`for await frame in readable`).
    public var readable: Readable { Readable(processor: element) }

    public struct Readable: AsyncSequence, Sendable {
        public typealias Element = MediaFrame
        fileprivate let processor: TrackProcessorElement

        public func makeAsyncIterator() -> ReadableFrameStream.AsyncIterator {
            ReadableFrameStream(ring: processor.ring).makeAsyncIterator()
        }

        /// `readable.pipeThrough(transform)`: the transform runs on the element's worker thread.
        public func pipeThrough(_ transformer: sending any StreamTransformer<MediaFrame>) -> Piped {
            Piped(processor: processor, transformers: [transformer])
        }
    }

    /// A readable piped through transforms, waiting for its destination.
    public struct Piped: @unchecked Sendable {
        fileprivate let processor: TrackProcessorElement
        fileprivate let transformers: [any StreamTransformer<MediaFrame>]

        public func pipeThrough(_ transformer: sending any StreamTransformer<MediaFrame>) -> Piped {
            Piped(processor: processor, transformers: transformers + [transformer])
        }

        /// `.pipeTo(generator.writable)`; takes effect when the processor starts.
        public func pipeTo(_ writable: TrackGenerator.Writable) {
            processor.setApplicationPipe(ApplicationPipe(transformers: transformers, writer: writable.generator))
        }

        /// Runs the transforms with nothing downstream (their output is dropped).
        public func run() {
            processor.setApplicationPipe(ApplicationPipe(transformers: transformers, writer: nil))
        }
    }

    public var totalFrames: UInt64 { element.ring.totalCount }
    public var discardedFrames: UInt64 { element.ring.droppedCount }
}

/// Swift handle on a `trackgenerator` element created in this process.
public final class TrackGenerator: Sendable {
    private let element: TrackGeneratorElement

    public init(element: UnsafeMutablePointer<GstElement>) throws {
        guard let found = TypeRegistry.implementation(of: element) as? TrackGeneratorElement else {
            throw InsertableStreamsError(description: "element is not a trackgenerator of this process (call InsertableStreams.registerElements() before creating it)")
        }
        self.element = found
    }

    public var writable: Writable { Writable(generator: element) }

    /// The generator's WritableStream: `write` (blocks while the one-frame queue is full),
    /// `close` (ends the track: EOS) and `abort` (ends it with an error).
    public struct Writable: Sendable {
        fileprivate let generator: TrackGeneratorElement
        public func write(_ frame: MediaFrame) throws { try generator.write(frame) }
        public func close() { generator.close() }
        public func abort(reason: String) { generator.abort(reason: reason) }
    }
}
