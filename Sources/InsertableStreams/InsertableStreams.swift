@_exported import EncodedStreams
@_exported import MediaStreams
import BuiltinTransforms
import CGStreamer
import CTransformModule
import GStreamerBridge
import TransformModules

/// Entry points for applications and for the plugin.
public enum InsertableStreams {
    /// Registers `trackprocessor`, `trackgenerator`, `rtpscripttransform` and `rtpvp8e2eepay`
    /// (and the built-in transforms).
    ///
    /// The plugin calls this with its GstPlugin. A Swift application that links this library
    /// calls it with no plugin after `gst_init`, so that the elements it creates are the Swift
    /// types of its own process and `TrackProcessor(element:)` can reach them.
    @discardableResult
    public static func registerElements(plugin: OpaquePointer? = nil) -> Bool {
        BuiltinTransforms.registerAll()
        AppTransform.register()
        // Before the elements' classes exist: their `worker` descriptions list module transforms.
        TransformModules.loadFromEnvironment()
        let processor = registerElement(TrackProcessorElement.self, name: "trackprocessor", plugin: plugin)
        let generator = registerElement(TrackGeneratorElement.self, name: "trackgenerator", plugin: plugin)
        let scriptTransform = registerElement(RtpScriptTransformElement.self, name: "rtpscripttransform", plugin: plugin)
        let vp8Payloader = registerElement(RtpVP8E2EEPayElement.self, name: "rtpvp8e2eepay", plugin: plugin)
        return processor && generator && scriptTransform && vp8Payloader
    }
}

extension InsertableStreams {
    /// Registers the transforms of a transform module linked into this process, by its entry
    /// point (the `@_cdecl("insertable_streams_module")` function a module exports): the same
    /// transform sources a module shared library is built from, without a shared library.
    public static func registerModule(entry: ISMEntryPoint) throws -> [String] {
        do {
            return try TransformModules.register(entry: entry).transforms
        } catch {
            throw InsertableStreamsError(description: error.description)
        }
    }

    /// Loads one transform module file (as GST_INSERTABLE_STREAMS_MODULE_PATH would) and
    /// returns the names of the transforms it registered.
    public static func loadModule(path: String) throws -> [String] {
        do {
            return try TransformModules.load(path: path)?.transforms ?? []
        } catch {
            throw InsertableStreamsError(description: error.description)
        }
    }

    /// Transform modules that could not be loaded, each with its reason.
    public static var moduleProblems: [String] { TransformLoadProblems.all }
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
