import MediaStreams

/// Picture-in-picture: draws the latest frame of another `trackprocessor` (the inset, e.g. a
/// presenter camera) into a corner of each frame of this track (the main picture).
///
/// The other processor has no worker of its own; its ring just holds its newest frames, and
/// `takeLatest()` takes the newest one per main frame (the main track sets the pace; the inset
/// repeats its last frame when it is slower). The inset is scaled with nearest-neighbour
/// sampling to `scale` times the main width, keeping its display aspect ratio (shrunk further
/// if it would be taller than the main picture), and placed `margin` pixels from the chosen
/// corner (clamped inside the picture). For I420 the position and size are rounded down to
/// even numbers so that chroma samples line up with their luma blocks.
///
/// Both tracks must have the same pixel format: copying samples keeps the inner loop a plain
/// load/store, and a conversion belongs in the pipeline (`videoconvert` before each processor).
final class PictureInPictureTransform: FrameTransformer {
    enum Corner: String, CaseIterable {
        case topLeft = "top-left", topRight = "top-right", bottomLeft = "bottom-left", bottomRight = "bottom-right"
    }

    let sourceName: String
    let corner: Corner
    let scale: Double
    let margin: Int
    private let elementName: String
    private let findRing: @Sendable (String) -> FrameRing?

    /// Found on first use (on the worker thread): the source may be created after this element.
    private var ring: FrameRing?
    /// The inset drawn on every main frame until a newer one arrives.
    private var inset: VideoFrame?
    /// When the last error was thrown, to report a persistent problem once a second only.
    private var lastComplaint: ContinuousClock.Instant?
    /// Source column of each target column, per plane being drawn (no per-frame allocation).
    private let columnMap = ScratchBuffer<Int>(zero: 0)

    var supportedKinds: Set<TrackKind> { [.video] }
    var supportedVideoFormats: Set<VideoPixelFormat>? { [.rgba, .rgbx, .bgra, .bgrx, .i420] }

    init(sourceName: String, corner: Corner, scale: Double, margin: Int, context: TransformContext) {
        self.sourceName = sourceName
        self.corner = corner
        self.scale = scale
        self.margin = margin
        elementName = context.elementName
        findRing = { [context] name in context.processorRing(name) }
    }

    deinit { inset?.close() }

    func flush(controller: TransformController) throws {
        inset?.close()
        inset = nil
    }

    func transform(_ frame: MediaFrame, controller: TransformController) throws {
        guard case .video(let main) = frame else {
            try controller.enqueue(frame)
            return
        }
        if ring == nil { ring = findRing(sourceName) }
        guard let ring else {
            try complain(frame, controller: controller,
                         "pip on \(elementName): no trackprocessor named '\(sourceName)' exists; name the trackprocessor that carries the inset, e.g. pip source=presenter (the main picture passes unchanged meanwhile)")
            return
        }
        switch ring.takeLatest() {
        case .video(let latest)?:
            inset?.close()
            inset = latest
        case .audio(let audio)?:
            audio.close()
            try complain(frame, controller: controller,
                         "pip on \(elementName): trackprocessor '\(sourceName)' carries audio; source= must name a video trackprocessor")
            return
        case nil:
            break
        }
        guard let inset, !inset.isClosed else {
            try controller.enqueue(frame)
            return
        }
        guard inset.format == main.format else {
            try complain(frame, controller: controller,
                         "pip on \(elementName): the inset from '\(sourceName)' is \(inset.format.rawValue) but the main picture is \(main.format.rawValue); both trackprocessors must negotiate the same format, e.g. put `videoconvert ! video/x-raw,format=\(main.format.capsName)` before each")
            return
        }
        try draw(inset, onto: main)
        try controller.enqueue(frame)
    }

    /// Throws `message` (the element posts it as a warning and drops this frame) unless an error
    /// was thrown less than a second ago; then the frame passes unchanged, so a lasting problem
    /// costs one frame a second and one warning a second.
    private func complain(_ frame: MediaFrame, controller: TransformController, _ message: String) throws {
        let now = ContinuousClock.now
        if let lastComplaint, now - lastComplaint < .seconds(1) {
            try controller.enqueue(frame)
            return
        }
        lastComplaint = now
        frame.close()
        throw TransformSpecError(message)
    }

    /// Where the inset goes on the main picture, in luma pixels; nil when it would be empty.
    func placement(main: VideoFrame, inset: VideoFrame) -> (x: Int, y: Int, width: Int, height: Int)? {
        let mainWidth = main.codedWidth, mainHeight = main.codedHeight
        // Height from the inset's display aspect, corrected for the main picture's pixel aspect.
        let pixelAspect = Double(main.displayWidth) / Double(main.codedWidth)
        let insetAspect = Double(inset.displayHeight) / Double(max(1, inset.displayWidth))
        var width = (Double(mainWidth) * scale).rounded()
        var height = (width * pixelAspect * insetAspect).rounded()
        if height > Double(mainHeight) {
            width = (width * Double(mainHeight) / height).rounded(.down)
            height = Double(mainHeight)
        }
        let align = main.format.isRGB ? 1 : 2
        let w = min(mainWidth, Int(width)) / align * align
        let h = min(mainHeight, Int(height)) / align * align
        guard w > 0, h > 0 else { return nil }
        let left = corner == .topLeft || corner == .bottomLeft
        let top = corner == .topLeft || corner == .topRight
        var x = left ? margin : mainWidth - margin - w
        var y = top ? margin : mainHeight - margin - h
        x = min(max(x, 0), mainWidth - w) / align * align
        y = min(max(y, 0), mainHeight - h) / align * align
        return (x, y, w, h)
    }

    private func draw(_ inset: VideoFrame, onto main: VideoFrame) throws {
        guard let place = placement(main: main, inset: inset) else { return }
        let format = main.format
        try inset.withPlanes { sources in
            try main.withMutablePlanes { targets in
                for index in targets.indices {
                    let geometry = format.planes[index]
                    let sampleBytes = geometry.bytesPerSample
                    let source = sources[index], target = targets[index]
                    let sourceWidth = source.rowBytes / sampleBytes, sourceRows = source.rows
                    // Plane coordinates; exact because subsampled formats use even positions/sizes.
                    let x0 = place.x >> geometry.horizontalShift, y0 = place.y >> geometry.verticalShift
                    let width = min(place.width >> geometry.horizontalShift, target.rowBytes / sampleBytes - x0)
                    let rows = min(place.height >> geometry.verticalShift, target.rows - y0)
                    guard width > 0, rows > 0, sourceWidth > 0, sourceRows > 0 else { continue }
                    // Nearest neighbour at sample centres: target i samples source (2i+1)*sw/(2w).
                    let map = columnMap.pointer(count: width)
                    for i in 0..<width { map[i] = ((2 * i + 1) * sourceWidth) / (2 * width) }
                    for row in 0..<rows {
                        let sourceRow = ((2 * row + 1) * sourceRows) / (2 * rows)
                        let from = source.data + sourceRow * source.stride
                        let to = target.data + (y0 + row) * target.stride + x0 * sampleBytes
                        switch sampleBytes {
                        case 4: Self.copy(from.assumingMemoryBound(to: UInt32.self), to.assumingMemoryBound(to: UInt32.self), map, width)
                        case 2: Self.copy(from.assumingMemoryBound(to: UInt16.self), to.assumingMemoryBound(to: UInt16.self), map, width)
                        default: Self.copy(from.assumingMemoryBound(to: UInt8.self), to.assumingMemoryBound(to: UInt8.self), map, width)
                        }
                    }
                }
            }
        }
    }

    @inline(__always)
    private static func copy<T>(_ from: UnsafePointer<T>, _ to: UnsafeMutablePointer<T>, _ map: UnsafeMutablePointer<Int>, _ count: Int) {
        for i in 0..<count { to[i] = from[map[i]] }
    }
}
