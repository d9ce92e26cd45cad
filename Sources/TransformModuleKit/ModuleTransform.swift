@_exported import CTransformModule
@_exported import TransformCore

/// A transform that the `insertablestreams` plugin can load at run time from a module (a shared
/// library, `GST_INSERTABLE_STREAMS_MODULE_PATH`), and that a Swift application can register in
/// its own process: the same source serves both, because both go through the module C ABI
/// (`insertable_streams_module.h`).
///
/// Every method runs on the element's worker thread, one call at a time: a transform may keep
/// plain mutable state. `transform` passes frames on with `controller.enqueue` (not enqueueing
/// drops the frame); a thrown error loses that frame only, and the element reports it.
public protocol ModuleTransform: AnyObject {
    /// The name a `worker` step uses (letters, digits, '-', '_').
    static var name: String { get }
    /// One line for gst-inspect-1.0 and error messages.
    static var summary: String { get }
    /// The `key=value` parameters the step accepts (others are refused before `init` runs).
    static var parameters: [TransformParameterInfo] { get }
    /// Raw frames (`trackprocessor`) or encoded frames (`rtpscripttransform`), and which.
    static var frames: ModuleFrames { get }

    init(parameters: TransformParameters) throws
    func transform(_ frame: ModuleFrame, controller: ModuleController) throws
    /// End of stream; may enqueue frames held back.
    func flush(controller: ModuleController) throws
    /// A message the application posted with the element's `post-message` action signal.
    func receive(message: TransformMessage, controller: ModuleController) throws
}

extension ModuleTransform {
    public static var parameters: [TransformParameterInfo] { [] }
    public func flush(controller: ModuleController) throws {}
    public func receive(message: TransformMessage, controller: ModuleController) throws {}
}

/// What a module transform processes.
public enum ModuleFrames: Sendable {
    /// Raw frames: the pixel formats handled (nil for any; the element negotiates only these)
    /// and the kinds of track.
    case raw(formats: [PixelFormat]? = nil, video: Bool = true, audio: Bool = false)
    /// Encoded frames: the codecs' mime types handled (e.g. "video/VP8"), nil for any.
    case encoded(mimeTypes: [String]? = nil)
}

/// Raw video pixel formats (WebCodecs `VideoPixelFormat` names).
public enum PixelFormat: String, Sendable, CaseIterable {
    case i420 = "I420", i422 = "I422", i444 = "I444", nv12 = "NV12"
    case rgba = "RGBA", rgbx = "RGBX", bgra = "BGRA", bgrx = "BGRX"

    /// Packed 4-byte RGB formats (one plane).
    public var isRGB: Bool {
        switch self {
        case .rgba, .rgbx, .bgra, .bgrx: true
        default: false
        }
    }

    /// Byte offsets of red, green and blue in a pixel of a packed RGB format.
    public var rgbOffsets: (red: Int, green: Int, blue: Int)? {
        switch self {
        case .rgba, .rgbx: (0, 1, 2)
        case .bgra, .bgrx: (2, 1, 0)
        default: nil
        }
    }
}

/// Raw audio sample formats (WebCodecs `AudioSampleFormat` names).
public enum SampleFormat: String, Sendable, CaseIterable {
    case s16 = "s16", s16Planar = "s16-planar", f32 = "f32", f32Planar = "f32-planar"
    public var isPlanar: Bool { self == .s16Planar || self == .f32Planar }
}

/// Why a call through the module ABI failed; the text says what was wrong.
public struct ModuleError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
