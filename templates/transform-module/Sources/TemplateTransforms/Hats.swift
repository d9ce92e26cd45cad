import TransformModuleKit

/// Raw video: draws `count` party hats (filled triangles) along the top edge of every frame.
/// Every format the plugin handles is drawn in place; the rest of the picture is untouched.
public final class Hats: ModuleTransform {
    public static let name = "hats"
    public static let summary = "Draws party hats along the top edge of every video frame (count=, height= percent of the frame)"
    public static let parameters = [
        TransformParameterInfo("count", "hats across the frame, 1 to 16 (default 3)"),
        TransformParameterInfo("height", "hat height in percent of the frame height, 5 to 50 (default 20)"),
    ]
    public static let frames = ModuleFrames.raw(formats: PixelFormat.allCases, video: true, audio: false)

    /// Hat colour: a strong magenta (RGB and its BT.601 limited-range YUV).
    public static let rgb: (red: UInt8, green: UInt8, blue: UInt8) = (230, 30, 200)
    public static let yuv: (y: UInt8, u: UInt8, v: UInt8) = (101, 178, 213)

    let count: Int
    let heightPercent: Int

    public init(parameters: TransformParameters) throws {
        count = try parameters.integer("count", default: 3, range: 1...16)
        heightPercent = try parameters.integer("height", default: 20, range: 5...50)
    }

    /// Whether the pixel at (x, y) of a `width` x `height` picture is inside a hat: hat i spans
    /// columns [i*w/count, (i+1)*w/count) and narrows from its full width at the bottom
    /// (y = hatHeight-1) to a point at the top (y = 0).
    public static func isHat(x: Int, y: Int, width: Int, height: Int, count: Int, heightPercent: Int) -> Bool {
        let hatHeight = max(1, height * heightPercent / 100)
        guard y < hatHeight else { return false }
        let hatWidth = max(1, width / count)
        let hat = x / hatWidth
        guard hat < count else { return false }
        let center = hat * hatWidth + hatWidth / 2
        let halfWidth = (hatWidth / 2) * (y + 1) / hatHeight
        return abs(x - center) <= halfWidth
    }

    public func transform(_ frame: ModuleFrame, controller: ModuleController) throws {
        guard let format = frame.pixelFormat else { throw ModuleError("hats draws on raw video only, not \(frame.formatName)") }
        let width = frame.width, height = frame.height
        let hatHeight = max(1, height * heightPercent / 100)
        if let offsets = format.rgbOffsets {
            let plane = try frame.plane(0)
            for y in 0..<min(hatHeight, plane.rows) {
                let row = plane.row(y).assumingMemoryBound(to: UInt8.self)
                for x in 0..<width where Self.isHat(x: x, y: y, width: width, height: height, count: count, heightPercent: heightPercent) {
                    row[x * 4 + offsets.red] = Self.rgb.red
                    row[x * 4 + offsets.green] = Self.rgb.green
                    row[x * 4 + offsets.blue] = Self.rgb.blue
                }
            }
        } else {
            // Luma everywhere; chroma once per chroma sample, where its top-left luma pixel is in a hat.
            let luma = try frame.plane(0)
            for y in 0..<min(hatHeight, luma.rows) {
                let row = luma.row(y).assumingMemoryBound(to: UInt8.self)
                for x in 0..<width where Self.isHat(x: x, y: y, width: width, height: height, count: count, heightPercent: heightPercent) {
                    row[x] = Self.yuv.y
                }
            }
            let (xShift, yShift) = format.chromaShifts
            let u = try frame.plane(1), v = format == .nv12 ? nil : try frame.plane(2)  // NV12: U,V pairs in plane 1
            for y in 0..<min((hatHeight + (1 << yShift) - 1) >> yShift, u.rows) {
                let uRow = u.row(y).assumingMemoryBound(to: UInt8.self)
                let vRow = v?.row(y).assumingMemoryBound(to: UInt8.self)
                for x in 0..<((width + (1 << xShift) - 1) >> xShift)
                where Self.isHat(x: x << xShift, y: y << yShift, width: width, height: height, count: count, heightPercent: heightPercent) {
                    if let vRow {
                        uRow[x] = Self.yuv.u
                        vRow[x] = Self.yuv.v
                    } else {
                        uRow[x * 2] = Self.yuv.u
                        uRow[x * 2 + 1] = Self.yuv.v
                    }
                }
            }
        }
        try controller.enqueue(frame)
    }
}

extension PixelFormat {
    /// log2 of the chroma subsampling of the YUV formats.
    var chromaShifts: (x: Int, y: Int) {
        switch self {
        case .i420, .nv12: (1, 1)
        case .i422: (1, 0)
        default: (0, 0)
        }
    }
}
