import CGStreamer

/// The WebCodecs `VideoPixelFormat`s this plugin handles, with their GStreamer equivalents.
public enum VideoPixelFormat: String, Sendable, CaseIterable {
    case i420 = "I420"
    case i422 = "I422"
    case i444 = "I444"
    case nv12 = "NV12"
    case rgba = "RGBA"
    case rgbx = "RGBX"
    case bgra = "BGRA"
    case bgrx = "BGRX"

    /// How one plane is laid out relative to the frame size.
    public struct PlaneGeometry: Sendable {
        /// log2 of the horizontal / vertical subsampling.
        public let horizontalShift: Int
        public let verticalShift: Int
        /// Bytes per sample in this plane (4 for packed RGBA, 2 for NV12's interleaved UV).
        public let bytesPerSample: Int
    }

    public var planes: [PlaneGeometry] {
        switch self {
        case .i420: [.init(horizontalShift: 0, verticalShift: 0, bytesPerSample: 1),
                     .init(horizontalShift: 1, verticalShift: 1, bytesPerSample: 1),
                     .init(horizontalShift: 1, verticalShift: 1, bytesPerSample: 1)]
        case .i422: [.init(horizontalShift: 0, verticalShift: 0, bytesPerSample: 1),
                     .init(horizontalShift: 1, verticalShift: 0, bytesPerSample: 1),
                     .init(horizontalShift: 1, verticalShift: 0, bytesPerSample: 1)]
        case .i444: Array(repeating: .init(horizontalShift: 0, verticalShift: 0, bytesPerSample: 1), count: 3)
        case .nv12: [.init(horizontalShift: 0, verticalShift: 0, bytesPerSample: 1),
                     .init(horizontalShift: 1, verticalShift: 1, bytesPerSample: 2)]
        case .rgba, .rgbx, .bgra, .bgrx: [.init(horizontalShift: 0, verticalShift: 0, bytesPerSample: 4)]
        }
    }

    /// Packed 4-byte RGB formats.
    public var isRGB: Bool { planes.count == 1 }

    /// Byte offsets of red, green and blue inside a packed RGB pixel.
    public var rgbOffsets: (red: Int, green: Int, blue: Int)? {
        switch self {
        case .rgba, .rgbx: (0, 1, 2)
        case .bgra, .bgrx: (2, 1, 0)
        default: nil
        }
    }

    /// The name GStreamer caps use (`format=...`).
    public var capsName: String {
        switch self {
        case .i420: "I420"
        case .i422: "Y42B"
        case .i444: "Y444"
        case .nv12: "NV12"
        case .rgba: "RGBA"
        case .rgbx: "RGBx"
        case .bgra: "BGRA"
        case .bgrx: "BGRx"
        }
    }

    public var gstFormat: GstVideoFormat { gst_video_format_from_string(capsName) }

    public init?(gstFormat: GstVideoFormat) {
        guard let match = Self.allCases.first(where: { $0.gstFormat == gstFormat }) else { return nil }
        self = match
    }

    /// Caps listing the given formats, e.g. for pad templates.
    public static func capsString(_ formats: some Sequence<VideoPixelFormat>) -> String {
        "video/x-raw, format=(string){ \(formats.map(\.capsName).joined(separator: ", ")) }, "
            + "width=(int)[ 1, 32767 ], height=(int)[ 1, 32767 ], framerate=(fraction)[ 0/1, 2147483647/1 ]"
    }
}

/// WebCodecs `VideoColorSpaceInit`, read from the caps' colorimetry.
public struct VideoColorSpace: Sendable, Equatable {
    public var primaries: String?
    public var transfer: String?
    public var matrix: String?
    public var fullRange: Bool?

    public init(primaries: String? = nil, transfer: String? = nil, matrix: String? = nil, fullRange: Bool? = nil) {
        self.primaries = primaries
        self.transfer = transfer
        self.matrix = matrix
        self.fullRange = fullRange
    }

    init(_ colorimetry: GstVideoColorimetry) {
        primaries = switch colorimetry.primaries {
        case GST_VIDEO_COLOR_PRIMARIES_BT709: "bt709"
        case GST_VIDEO_COLOR_PRIMARIES_BT470BG: "bt470bg"
        case GST_VIDEO_COLOR_PRIMARIES_SMPTE170M: "smpte170m"
        case GST_VIDEO_COLOR_PRIMARIES_BT2020: "bt2020"
        default: nil
        }
        transfer = switch colorimetry.transfer {
        case GST_VIDEO_TRANSFER_BT709, GST_VIDEO_TRANSFER_BT601: "bt709"
        case GST_VIDEO_TRANSFER_SRGB: "iec61966-2-1"
        case GST_VIDEO_TRANSFER_SMPTE2084: "pq"
        case GST_VIDEO_TRANSFER_ARIB_STD_B67: "hlg"
        case GST_VIDEO_TRANSFER_GAMMA10: "linear"
        default: nil
        }
        matrix = switch colorimetry.matrix {
        case GST_VIDEO_COLOR_MATRIX_RGB: "rgb"
        case GST_VIDEO_COLOR_MATRIX_BT709: "bt709"
        case GST_VIDEO_COLOR_MATRIX_BT601: "smpte170m"
        case GST_VIDEO_COLOR_MATRIX_BT2020: "bt2020-ncl"
        default: nil
        }
        fullRange = switch colorimetry.range {
        case GST_VIDEO_COLOR_RANGE_0_255: true
        case GST_VIDEO_COLOR_RANGE_16_235: false
        default: nil
        }
    }
}

/// A rectangle in pixels (WebCodecs `DOMRect` for `visibleRect`).
public struct PixelRect: Sendable, Equatable {
    public var x: Int, y: Int, width: Int, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }
}
