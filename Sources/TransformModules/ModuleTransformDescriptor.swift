import CTransformModule
import EncodedStreams
import MediaStreams

/// One transform of a loaded module: its C table (permanent: modules are never unloaded) and
/// what the catalog and the elements need from it, read and checked once.
final class ModuleTransformDescriptor: @unchecked Sendable {
    enum Frames { case raw, encoded }

    let pointer: UnsafePointer<ISMTransform>
    let module: String
    /// "module /path/libx.so", for listings and messages.
    let origin: String
    let name: String
    let summary: String
    let frames: Frames?
    let parameters: [TransformParameterInfo]
    /// Raw: nil for any format.
    let videoFormats: Set<VideoPixelFormat>?
    let kinds: Set<TrackKind>
    /// Encoded: nil for any codec.
    let codecs: Set<EncodedCodec>?
    /// The first thing wrong with the table, if any (`validate` throws it).
    private let problem: String?

    init(_ pointer: UnsafePointer<ISMTransform>, module: String, origin: String) {
        self.pointer = pointer
        self.module = module
        self.origin = origin
        let table = pointer.pointee
        name = table.name.map { String(cString: $0) } ?? ""
        summary = table.summary.map { String(cString: $0) } ?? ""
        parameters = (0..<Int(table.n_parameters)).compactMap { index in
            guard let parameter = table.parameters?[index], let name = parameter.name else { return nil }
            return TransformParameterInfo(String(cString: name), parameter.summary.map { String(cString: $0) } ?? "")
        }
        let formatNames = table.formats.map { String(cString: $0).split(separator: ",").map { String($0).trimmingCharacters(in: " ") } }
        var problem: String?
        switch table.frames {
        case UInt32(ISM_FRAMES_RAW.rawValue):
            frames = .raw
            var formats: Set<VideoPixelFormat> = []
            for formatName in formatNames ?? [] {
                if let format = VideoPixelFormat(rawValue: formatName) {
                    formats.insert(format)
                } else {
                    problem = problem ?? "formats lists '\(formatName)', which is not a pixel format this plugin handles (\(VideoPixelFormat.allCases.map(\.rawValue).joined(separator: ", ")))"
                }
            }
            videoFormats = formatNames == nil ? nil : formats
            kinds = Set([table.raw_kinds & 1 != 0 ? TrackKind.video : nil, table.raw_kinds & 2 != 0 ? TrackKind.audio : nil].compactMap { $0 })
            codecs = nil
            if kinds.isEmpty { problem = problem ?? "raw_kinds is \(table.raw_kinds); it must be 1 (video), 2 (audio) or 3 (both)" }
        case UInt32(ISM_FRAMES_ENCODED.rawValue):
            frames = .encoded
            var codecs: Set<EncodedCodec> = []
            for mimeType in formatNames ?? [] {
                if let codec = EncodedCodec.allCases.first(where: { $0.mimeType.lowercased() == mimeType.lowercased() }) {
                    codecs.insert(codec)
                } else {
                    problem = problem ?? "formats lists '\(mimeType)', which is not a codec this plugin carries (\(EncodedCodec.allCases.map(\.mimeType).joined(separator: ", ")))"
                }
            }
            self.codecs = formatNames == nil ? nil : codecs
            videoFormats = nil
            kinds = [.video, .audio]
        default:
            frames = nil
            videoFormats = nil
            kinds = []
            codecs = nil
            problem = "frames is \(table.frames); it must be ISM_FRAMES_RAW (1) or ISM_FRAMES_ENCODED (2)"
        }
        if table.create == nil || table.destroy == nil || table.transform == nil {
            problem = "create, destroy and transform must all be set"
        }
        self.problem = problem
    }

    func validate() throws(ModuleLoadError) {
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D || byte == 0x5F
        }
        guard !name.isEmpty, allowed else {
            throw ModuleLoadError("\(origin): a transform named '\(name)' is not registered: a name is letters, digits, '-' and '_'")
        }
        if let problem {
            throw ModuleLoadError("\(origin): transform '\(name)' is not registered: \(problem)")
        }
    }
}
