import CGStreamer

/// A read-only view of one plane of a mapped frame.
public struct VideoPlane {
    public let data: UnsafeRawPointer
    /// Bytes from one row to the next (may exceed `rowBytes`).
    public let stride: Int
    /// Meaningful bytes per row.
    public let rowBytes: Int
    public let rows: Int
}

/// A writable view of one plane of a mapped frame.
public struct MutableVideoPlane {
    public let data: UnsafeMutableRawPointer
    public let stride: Int
    public let rowBytes: Int
    public let rows: Int
}

/// Where `copyTo` put a plane (WebCodecs `PlaneLayout`).
public struct PlaneLayout: Sendable, Equatable {
    public var offset: Int
    public var stride: Int
    public init(offset: Int, stride: Int) {
        self.offset = offset
        self.stride = stride
    }
}

/// WebCodecs `VideoFrame` over a GstBuffer.
///
/// The pixels are never copied on the way in: the planes are mapped in place when read. Writing
/// (`withMutablePlanes`) makes the buffer writable first, which copies only if another frame or
/// element shares it. A frame is used by one thread at a time and moves between threads (the
/// element's streaming thread, its worker, the generator); `close()` releases the buffer.
public final class VideoFrame: @unchecked Sendable {
    public let format: VideoPixelFormat
    public let codedWidth: Int
    public let codedHeight: Int
    public let visibleRect: PixelRect
    public let displayWidth: Int
    public let displayHeight: Int
    /// Presentation timestamp in microseconds (the GstBuffer PTS).
    public let timestamp: Int64
    /// Duration in microseconds, when known.
    public let duration: Int64?
    public let colorSpace: VideoColorSpace
    package let timing: FrameTiming
    package let videoInfo: GstVideoInfo
    package let buffer: OwnedBuffer

    /// Wraps `buffer` (transfer full) described by `info`.
    package init(buffer: UnsafeMutablePointer<GstBuffer>, info: GstVideoInfo, format: VideoPixelFormat,
                 timing: FrameTiming) {
        self.buffer = OwnedBuffer(buffer)
        self.videoInfo = info
        self.format = format
        codedWidth = Int(info.width)
        codedHeight = Int(info.height)
        visibleRect = PixelRect(x: 0, y: 0, width: codedWidth, height: codedHeight)
        if info.par_n > 0, info.par_d > 0, info.par_n != info.par_d {
            displayWidth = codedWidth * Int(info.par_n) / Int(info.par_d)
        } else {
            displayWidth = codedWidth
        }
        displayHeight = codedHeight
        self.timing = timing
        timestamp = FrameTiming.microseconds(timing.pts) ?? 0
        duration = FrameTiming.microseconds(timing.duration)
        colorSpace = VideoColorSpace(info.colorimetry)
    }

    /// A new black frame, for transforms that compose their own output.
    public convenience init(format: VideoPixelFormat, width: Int, height: Int, timestamp: Int64,
                            duration: Int64? = nil) throws {
        guard width > 0, height > 0, width <= 32767, height <= 32767 else {
            throw MediaFrameError.invalidArgument("VideoFrame size \(width)x\(height) must be 1...32767 on each side")
        }
        var info = GstVideoInfo()
        gst_video_info_set_format(&info, format.gstFormat, guint(width), guint(height))
        guard let buffer = gst_buffer_new_allocate(nil, info.size, nil) else {
            throw MediaFrameError.mapFailed("could not allocate \(info.size) bytes")
        }
        let timing = FrameTiming(pts: timestamp >= 0 ? UInt64(timestamp) * 1000 : nil,
                                 duration: duration.map { UInt64(max(0, $0)) * 1000 })
        self.init(buffer: buffer, info: info, format: format, timing: timing)
        try withMutablePlanes { planes in
            for (index, plane) in planes.enumerated() {
                let value: UInt8 = format.isRGB ? 0 : (index == 0 ? 16 : 128)
                for row in 0..<plane.rows { (plane.data + row * plane.stride).initializeMemory(as: UInt8.self, repeating: value, count: plane.rowBytes) }
            }
            if format == .rgba || format == .bgra {  // opaque alpha
                let plane = planes[0]
                for row in 0..<plane.rows {
                    let pixels = (plane.data + row * plane.stride).assumingMemoryBound(to: UInt8.self)
                    for x in 0..<codedWidth { pixels[x * 4 + 3] = 255 }
                }
            }
        }
    }

    public var isClosed: Bool { buffer.isReleased }

    /// Releases the pixels. Any later use throws `MediaFrameError.closed`.
    public func close() { buffer.release() }

    /// A second frame sharing the same pixels (copy-on-write).
    public func clone() throws -> VideoFrame {
        guard let reference = buffer.newReference() else { throw MediaFrameError.closed("VideoFrame") }
        return VideoFrame(buffer: reference, info: videoInfo, format: format, timing: timing)
    }

    /// Geometry of plane `index`: (rows, meaningful bytes per row).
    public func planeSize(_ index: Int) -> (rows: Int, rowBytes: Int) {
        let geometry = format.planes[index]
        let width = (codedWidth + (1 << geometry.horizontalShift) - 1) >> geometry.horizontalShift
        let rows = (codedHeight + (1 << geometry.verticalShift) - 1) >> geometry.verticalShift
        return (rows, width * geometry.bytesPerSample)
    }

    /// Maps the planes for reading, in place.
    public func withPlanes<R>(_ body: ([VideoPlane]) throws -> R) throws -> R {
        guard let pointer = buffer.pointer else { throw MediaFrameError.closed("VideoFrame") }
        return try map(pointer, GST_MAP_READ) { planes in
            try body(planes.map { VideoPlane(data: UnsafeRawPointer($0.data), stride: $0.stride,
                                             rowBytes: $0.rowBytes, rows: $0.rows) })
        }
    }

    /// Maps the planes for writing, in place when the buffer is not shared.
    public func withMutablePlanes<R>(_ body: ([MutableVideoPlane]) throws -> R) throws -> R {
        guard let pointer = buffer.makeWritable() else { throw MediaFrameError.closed("VideoFrame") }
        return try map(pointer, swift_map_readwrite(), body)
    }

    /// For transforms that compute every output pixel from the input (mirror, colour maps):
    /// `body` reads `source` and writes `destination`. When the frame's buffer is not shared,
    /// both are the same memory (`inPlace` is true). When it is shared, `destination` is a new
    /// pooled buffer that replaces the frame's afterwards: no copy of pixels that would be
    /// overwritten anyway, as `withMutablePlanes` would have to make.
    public func rewritePixels<R>(_ body: (_ source: [VideoPlane], _ destination: [MutableVideoPlane], _ inPlace: Bool) throws -> R) throws -> R {
        guard let current = buffer.pointer else { throw MediaFrameError.closed("VideoFrame") }
        if swift_buffer_is_writable(current) != 0, gst_buffer_is_all_memory_writable(current) != 0 {
            return try map(current, swift_map_readwrite()) { planes in
                try body(planes.map { VideoPlane(data: UnsafeRawPointer($0.data), stride: $0.stride, rowBytes: $0.rowBytes, rows: $0.rows) },
                         planes, true)
            }
        }
        guard let fresh = PixelBufferPools.acquire(videoInfo) else {
            return try withMutablePlanes { planes in
                try body(planes.map { VideoPlane(data: UnsafeRawPointer($0.data), stride: $0.stride, rowBytes: $0.rowBytes, rows: $0.rows) },
                         planes, true)
            }
        }
        _ = gst_buffer_copy_into(fresh, current, GstBufferCopyFlags(rawValue: GST_BUFFER_COPY_FLAGS.rawValue | GST_BUFFER_COPY_TIMESTAMPS.rawValue), 0, gsize.max)
        var freshInfo = GstVideoInfo()
        gst_video_info_set_format(&freshInfo, videoInfo.finfo.pointee.format, guint(videoInfo.width), guint(videoInfo.height))
        do {
            let result = try withPlanes { source in
                try map(fresh, swift_map_readwrite(), info: freshInfo) { destination in try body(source, destination, false) }
            }
            buffer.replace(with: fresh)
            return result
        } catch {
            gst_buffer_unref(fresh)
            throw error
        }
    }

    private func map<R>(_ pointer: UnsafeMutablePointer<GstBuffer>, _ flags: GstMapFlags, info layout: GstVideoInfo? = nil,
                        _ body: ([MutableVideoPlane]) throws -> R) throws -> R {
        var mapped = GstVideoFrame()
        var info = layout ?? videoInfo
        guard gst_video_frame_map(&mapped, &info, pointer, flags) != 0 else {
            throw MediaFrameError.mapFailed("gst_video_frame_map failed for a \(format.rawValue) \(codedWidth)x\(codedHeight) buffer")
        }
        defer { gst_video_frame_unmap(&mapped) }
        let planes = (0..<format.planes.count).map { index in
            let size = planeSize(index)
            return MutableVideoPlane(data: swift_video_frame_plane_data(&mapped, guint(index))!,
                                     stride: Int(swift_video_frame_plane_stride(&mapped, guint(index))),
                                     rowBytes: size.rowBytes, rows: size.rows)
        }
        return try body(planes)
    }

    /// Bytes `copyTo` needs with a tightly packed layout.
    public func allocationSize() -> Int {
        (0..<format.planes.count).reduce(0) { total, index in
            let size = planeSize(index)
            return total + size.rows * size.rowBytes
        }
    }

    /// Copies the pixels into `destination`, planes one after the other, rows tightly packed
    /// unless `layout` says otherwise. Returns the layout used.
    @discardableResult
    public func copyTo(_ destination: UnsafeMutableRawBufferPointer, layout: [PlaneLayout]? = nil) throws -> [PlaneLayout] {
        var planeLayouts: [PlaneLayout] = []
        var offset = 0
        for index in 0..<format.planes.count {
            let size = planeSize(index)
            if let layout {
                guard layout.count == format.planes.count else {
                    throw MediaFrameError.invalidArgument("layout has \(layout.count) planes, \(format.rawValue) has \(format.planes.count)")
                }
                guard layout[index].stride >= size.rowBytes else {
                    throw MediaFrameError.invalidArgument("layout stride \(layout[index].stride) of plane \(index) is smaller than its \(size.rowBytes) bytes per row")
                }
                planeLayouts.append(layout[index])
            } else {
                planeLayouts.append(PlaneLayout(offset: offset, stride: size.rowBytes))
                offset += size.rows * size.rowBytes
            }
            let end = planeLayouts[index].offset + (size.rows - 1) * planeLayouts[index].stride + size.rowBytes
            guard end <= destination.count else {
                throw MediaFrameError.invalidArgument("destination of \(destination.count) bytes is too small: plane \(index) ends at byte \(end)")
            }
        }
        guard let base = destination.baseAddress else { return planeLayouts }
        try withPlanes { planes in
            for (index, plane) in planes.enumerated() {
                let target = planeLayouts[index]
                for row in 0..<plane.rows {
                    (base + target.offset + row * target.stride)
                        .copyMemory(from: plane.data + row * plane.stride, byteCount: plane.rowBytes)
                }
            }
        }
        return planeLayouts
    }

    /// The buffer to push downstream (transfer full); the frame is closed by this.
    package func takeBuffer() -> UnsafeMutablePointer<GstBuffer>? { buffer.take() }
}
