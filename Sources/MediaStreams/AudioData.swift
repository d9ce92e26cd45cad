import CGStreamer

/// WebCodecs `AudioSampleFormat`s this plugin handles.
public enum AudioSampleFormat: String, Sendable, CaseIterable {
    case s16 = "s16"
    case s16Planar = "s16-planar"
    case f32 = "f32"
    case f32Planar = "f32-planar"

    public var isPlanar: Bool { self == .s16Planar || self == .f32Planar }
    public var bytesPerSample: Int { (self == .s16 || self == .s16Planar) ? 2 : 4 }
    public var gstFormat: GstAudioFormat { bytesPerSample == 2 ? GST_AUDIO_FORMAT_S16LE : GST_AUDIO_FORMAT_F32LE }

    init?(gstFormat: GstAudioFormat, planar: Bool) {
        switch (gstFormat, planar) {
        case (GST_AUDIO_FORMAT_S16LE, false): self = .s16
        case (GST_AUDIO_FORMAT_S16LE, true): self = .s16Planar
        case (GST_AUDIO_FORMAT_F32LE, false): self = .f32
        case (GST_AUDIO_FORMAT_F32LE, true): self = .f32Planar
        default: return nil
        }
    }

    public static let capsString =
        "audio/x-raw, format=(string){ S16LE, F32LE }, layout=(string){ interleaved, non-interleaved }, "
        + "rate=(int)[ 1, 2147483647 ], channels=(int)[ 1, 64 ]"
}

/// WebCodecs `AudioData` over a GstBuffer; like `VideoFrame`, samples are mapped in place.
public final class AudioData: @unchecked Sendable {
    public let format: AudioSampleFormat
    public let sampleRate: Int
    public let numberOfFrames: Int
    public let numberOfChannels: Int
    /// Microseconds.
    public let timestamp: Int64
    /// Microseconds, from the number of frames and the rate.
    public let duration: Int64
    package let timing: FrameTiming
    package let audioInfo: GstAudioInfo
    let buffer: OwnedBuffer

    package init?(buffer: UnsafeMutablePointer<GstBuffer>, info: GstAudioInfo, timing: FrameTiming) {
        guard let format = AudioSampleFormat(gstFormat: swift_audio_info_format([info]),
                                             planar: info.layout == GST_AUDIO_LAYOUT_NON_INTERLEAVED),
              info.rate > 0, info.bpf > 0 else {
            gst_buffer_unref(buffer)
            return nil
        }
        self.buffer = OwnedBuffer(buffer)
        self.format = format
        audioInfo = info
        sampleRate = Int(info.rate)
        numberOfChannels = Int(info.channels)
        numberOfFrames = Int(gst_buffer_get_size(buffer)) / Int(info.bpf)
        var timing = timing
        let computedDuration = UInt64(numberOfFrames) * 1_000_000_000 / UInt64(sampleRate)
        if timing.duration == nil { timing.duration = computedDuration }
        self.timing = timing
        timestamp = FrameTiming.microseconds(timing.pts) ?? 0
        duration = Int64(computedDuration / 1000)
    }

    /// New silent audio, for transforms that produce their own.
    public convenience init(format: AudioSampleFormat, sampleRate: Int, numberOfFrames: Int, numberOfChannels: Int,
                            timestamp: Int64) throws {
        guard sampleRate > 0, numberOfFrames > 0, (1...64).contains(numberOfChannels) else {
            throw MediaFrameError.invalidArgument("AudioData needs a positive rate and frame count and 1...64 channels")
        }
        var info = GstAudioInfo()
        gst_audio_info_set_format(&info, format.gstFormat, gint(sampleRate), gint(numberOfChannels), nil)
        info.layout = format.isPlanar ? GST_AUDIO_LAYOUT_NON_INTERLEAVED : GST_AUDIO_LAYOUT_INTERLEAVED
        let size = numberOfFrames * Int(info.bpf)
        let buffer = gst_buffer_new_allocate(nil, gsize(size), nil)!
        gst_buffer_memset(buffer, 0, 0, gsize(size))
        if format.isPlanar {
            _ = gst_buffer_add_audio_meta(buffer, &info, gsize(numberOfFrames), nil)
        }
        self.init(buffer: buffer, info: info, timing: FrameTiming(pts: timestamp >= 0 ? UInt64(timestamp) * 1000 : nil))!
    }

    public var isClosed: Bool { buffer.isReleased }
    public func close() { buffer.release() }

    public func clone() throws -> AudioData {
        guard let reference = buffer.newReference() else { throw MediaFrameError.closed("AudioData") }
        return AudioData(buffer: reference, info: audioInfo, timing: timing)!
    }

    /// Bytes of one plane (planar) or of everything (interleaved).
    public func allocationSize(planeIndex: Int = 0) -> Int {
        format.isPlanar ? numberOfFrames * format.bytesPerSample : numberOfFrames * numberOfChannels * format.bytesPerSample
    }

    /// Maps the samples for reading: one pointer per plane (one for interleaved).
    public func withPlanes<R>(_ body: ([UnsafeRawBufferPointer]) throws -> R) throws -> R {
        guard let pointer = buffer.pointer else { throw MediaFrameError.closed("AudioData") }
        return try map(pointer, GST_MAP_READ) { try body($0.map { UnsafeRawBufferPointer($0) }) }
    }

    /// Maps the samples for writing, in place unless shared.
    public func withMutablePlanes<R>(_ body: ([UnsafeMutableRawBufferPointer]) throws -> R) throws -> R {
        guard let pointer = buffer.makeWritable() else { throw MediaFrameError.closed("AudioData") }
        return try map(pointer, swift_map_readwrite(), body)
    }

    private func map<R>(_ pointer: UnsafeMutablePointer<GstBuffer>, _ flags: GstMapFlags,
                        _ body: ([UnsafeMutableRawBufferPointer]) throws -> R) throws -> R {
        var mapped = GstAudioBuffer()
        var info = audioInfo
        guard gst_audio_buffer_map(&mapped, &info, pointer, flags) != 0 else {
            throw MediaFrameError.mapFailed("gst_audio_buffer_map failed")
        }
        defer { gst_audio_buffer_unmap(&mapped) }
        let planeBytes = allocationSize()
        let planes = (0..<Int(mapped.n_planes)).map { index in
            UnsafeMutableRawBufferPointer(start: mapped.planes[index], count: planeBytes)
        }
        return try body(planes)
    }

    /// WebCodecs `copyTo`: copies `frameCount` frames from `frameOffset` of plane `planeIndex`
    /// into `destination`, converting to `format` (same format, or to f32 / f32-planar).
    public func copyTo(_ destination: UnsafeMutableRawBufferPointer, planeIndex: Int, frameOffset: Int = 0,
                       frameCount: Int? = nil, format targetFormat: AudioSampleFormat? = nil) throws {
        let target = targetFormat ?? format
        let planeCount = target.isPlanar ? numberOfChannels : 1
        guard (0..<planeCount).contains(planeIndex) else {
            throw MediaFrameError.invalidArgument("planeIndex \(planeIndex) is out of range 0..<\(planeCount) for \(target.rawValue)")
        }
        guard frameOffset >= 0, frameOffset <= numberOfFrames else {
            throw MediaFrameError.invalidArgument("frameOffset \(frameOffset) exceeds numberOfFrames \(numberOfFrames)")
        }
        let count = frameCount ?? (numberOfFrames - frameOffset)
        guard count >= 0, frameOffset + count <= numberOfFrames else {
            throw MediaFrameError.invalidArgument("frameCount \(count) from offset \(frameOffset) exceeds numberOfFrames \(numberOfFrames)")
        }
        let valuesPerFrame = target.isPlanar ? 1 : numberOfChannels
        let needed = count * valuesPerFrame * target.bytesPerSample
        guard destination.count >= needed else {
            throw MediaFrameError.invalidArgument("destination of \(destination.count) bytes is too small; \(needed) needed")
        }
        guard target == format || target == .f32 || target == .f32Planar else {
            throw MediaFrameError.invalidArgument("conversion from \(format.rawValue) to \(target.rawValue) is not supported (only to f32 and f32-planar)")
        }
        try withPlanes { planes in
            // Sample (frame, channel) of the source as a Float, or raw copy when formats match.
            func sample(_ frame: Int, _ channel: Int) -> Float {
                let (plane, index) = format.isPlanar ? (planes[channel], frame) : (planes[0], frame * numberOfChannels + channel)
                if format.bytesPerSample == 2 {
                    return Float(plane.load(fromByteOffset: index * 2, as: Int16.self)) / 32768
                }
                return plane.load(fromByteOffset: index * 4, as: Float.self)
            }
            if target == format {
                let source = format.isPlanar ? planes[planeIndex] : planes[0]
                let start = frameOffset * valuesPerFrame * format.bytesPerSample
                destination.baseAddress!.copyMemory(from: source.baseAddress! + start, byteCount: needed)
                return
            }
            let output = destination.baseAddress!.assumingMemoryBound(to: Float.self)
            for frame in 0..<count {
                if target.isPlanar {
                    output[frame] = sample(frameOffset + frame, planeIndex)
                } else {
                    for channel in 0..<numberOfChannels {
                        output[frame * numberOfChannels + channel] = sample(frameOffset + frame, channel)
                    }
                }
            }
        }
    }

    package func takeBuffer() -> UnsafeMutablePointer<GstBuffer>? { buffer.take() }
}
