// Pad probes that count frames and check decoded media against the test sources.
import CGStreamer
import Synchronization

/// Counters of one kind of media, updated from streaming threads.
final class StreamCounters: Sendable {
    let sent = Atomic<Int>(0)
    let keySent = Atomic<Int>(0)
    let received = Atomic<Int>(0)
    let keyReceived = Atomic<Int>(0)
    let decoded = Atomic<Int>(0)
    let intact = Atomic<Int>(0)
    let keyFrameRequests = Atomic<Int>(0)
    /// The colours (video) or crossing rate (audio) of the last checked buffer, for diagnostics.
    let lastSample = Mutex<String>("")

    func snapshot() -> StreamStatistics {
        var statistics = StreamStatistics()
        statistics.framesSent = sent.load(ordering: .relaxed)
        statistics.keyFramesSent = keySent.load(ordering: .relaxed)
        statistics.framesReceived = received.load(ordering: .relaxed)
        statistics.keyFramesReceived = keyReceived.load(ordering: .relaxed)
        statistics.framesDecoded = decoded.load(ordering: .relaxed)
        statistics.intactFrames = intact.load(ordering: .relaxed)
        statistics.keyFrameRequests = keyFrameRequests.load(ordering: .relaxed)
        return statistics
    }
}

/// What a probe does with the buffers it sees.
enum ProbeRole: Sendable {
    case sent, received, decoded, videoCheck, audioCheck
}

/// The user data of one pad probe (retained by the probe, released when it is removed).
final class ProbeContext: Sendable {
    let role: ProbeRole
    let counters: StreamCounters

    init(role: ProbeRole, counters: StreamCounters) {
        self.role = role
        self.counters = counters
    }

    func handle(_ buffer: UnsafeMutablePointer<GstBuffer>, pad: UnsafeMutablePointer<GstPad>?) {
        let isKey = swift_buffer_flags(buffer).rawValue & GST_BUFFER_FLAG_DELTA_UNIT.rawValue == 0
        switch role {
        case .sent:
            counters.sent.add(1, ordering: .relaxed)
            if isKey { counters.keySent.add(1, ordering: .relaxed) }
        case .received:
            counters.received.add(1, ordering: .relaxed)
            if isKey { counters.keyReceived.add(1, ordering: .relaxed) }
        case .decoded:
            counters.decoded.add(1, ordering: .relaxed)
        case .videoCheck:
            if let pad, checkVideo(buffer, pad: pad) { counters.intact.add(1, ordering: .relaxed) }
        case .audioCheck:
            if checkAudio(buffer) { counters.intact.add(1, ordering: .relaxed) }
        }
    }

    /// The seven top bars of `videotestsrc pattern=smpte`. GStreamer 1.22 draws them at 100 %
    /// (255/0) when it outputs RGB (ABGR64 here, as videoconvert accepts anything), not at the
    /// 75 % (191) of the SMPTE chart. Measured after VP8 and H.264 at 320x240: every channel
    /// within 5 of 255 or 0.
    static let smpteBars: [(UInt8, UInt8, UInt8)] = [
        (255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0),
        (255, 0, 255), (255, 0, 0), (0, 0, 255),
    ]
    static let tolerance = 40

    /// Samples the centre of each top bar at y = height/3 of an RGBx/RGBA/RGB frame.
    private func checkVideo(_ buffer: UnsafeMutablePointer<GstBuffer>, pad: UnsafeMutablePointer<GstPad>) -> Bool {
        guard let caps = gst_pad_get_current_caps(pad) else { return false }
        defer { gst_caps_unref(caps) }
        var info = GstVideoInfo()
        guard gst_video_info_from_caps(&info, caps) != 0 else { return false }
        let format = swift_video_info_format(&info)
        let pixelSize: Int
        switch format {
        case GST_VIDEO_FORMAT_RGBx, GST_VIDEO_FORMAT_RGBA: pixelSize = 4
        case GST_VIDEO_FORMAT_RGB: pixelSize = 3
        default: return false
        }
        let width = Int(info.width), height = Int(info.height)
        let stride = Int(swift_video_info_plane_stride(&info, 0))
        let offset = Int(swift_video_info_plane_offset(&info, 0))
        var map = GstMapInfo()
        guard gst_buffer_map(buffer, &map, GST_MAP_READ) != 0 else { return false }
        defer { gst_buffer_unmap(buffer, &map) }
        let y = height / 3
        guard width >= 7, offset + (y + 1) * stride <= Int(map.size) else { return false }
        var intact = true
        var seen = ""
        for (index, expected) in Self.smpteBars.enumerated() {
            let x = (2 * index + 1) * width / 14
            let pixel = map.data + offset + y * stride + x * pixelSize
            let (r, g, b) = (Int(pixel[0]), Int(pixel[1]), Int(pixel[2]))
            seen += "(\(r),\(g),\(b))"
            if abs(r - Int(expected.0)) > Self.tolerance || abs(g - Int(expected.1)) > Self.tolerance
                || abs(b - Int(expected.2)) > Self.tolerance {
                intact = false
            }
        }
        counters.lastSample.withLock { $0 = seen }
        return intact
    }

    static let sineCrossingsPerSecond = 880.0
    static let sampleRate = 48_000.0

    /// Zero-crossing rate of a mono S16 48 kHz buffer (the receive branch's caps): 880/s ± 15 %.
    private func checkAudio(_ buffer: UnsafeMutablePointer<GstBuffer>) -> Bool {
        var map = GstMapInfo()
        guard gst_buffer_map(buffer, &map, GST_MAP_READ) != 0 else { return false }
        defer { gst_buffer_unmap(buffer, &map) }
        let count = Int(map.size) / 2
        guard count >= 480 else { return false }  // under 10 ms: too short to judge
        let samples = UnsafeRawPointer(map.data!).bindMemory(to: Int16.self, capacity: count)
        var crossings = 0
        var positive = samples[0] >= 0
        for index in 1..<count {
            let now = samples[index] >= 0
            if now != positive { crossings += 1; positive = now }
        }
        let rate = Double(crossings) * Self.sampleRate / Double(count)
        counters.lastSample.withLock { $0 = "\(Int(rate.rounded()))/s" }
        return abs(rate - Self.sineCrossingsPerSecond) <= 0.15 * Self.sineCrossingsPerSecond
    }
}

/// The one pad-probe callback: buffers and buffer lists, handed to the context.
private let probeCallback: GstPadProbeCallback = { pad, info, data in
    guard let info, let data, let object = info.pointee.data else { return GST_PAD_PROBE_OK }
    let context = Unmanaged<ProbeContext>.fromOpaque(data).takeUnretainedValue()
    if info.pointee.type.rawValue & GST_PAD_PROBE_TYPE_BUFFER_LIST.rawValue != 0 {
        let list = OpaquePointer(object)
        for index in 0..<gst_buffer_list_length(list) {
            if let buffer = gst_buffer_list_get(list, index) { context.handle(buffer, pad: pad) }
        }
    } else {
        context.handle(object.assumingMemoryBound(to: GstBuffer.self), pad: pad)
    }
    return GST_PAD_PROBE_OK
}

/// Counts upstream force-key-unit events (key frame requests) passing a pad.
private let keyFrameRequestCallback: GstPadProbeCallback = { _, info, data in
    guard let info, let data, let event = info.pointee.data else { return GST_PAD_PROBE_OK }
    if gst_video_event_is_force_key_unit(event.assumingMemoryBound(to: GstEvent.self)) != 0 {
        Unmanaged<StreamCounters>.fromOpaque(data).takeUnretainedValue().keyFrameRequests.add(1, ordering: .relaxed)
    }
    return GST_PAD_PROBE_OK
}

/// Counts the key frame requests that reach `element`'s src pad from downstream.
func addKeyFrameRequestProbe(_ element: UnsafeMutablePointer<GstElement>, counters: StreamCounters) {
    guard let pad = gst_element_get_static_pad(element, "src") else { return }
    defer { gst_object_unref(pad) }
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, keyFrameRequestCallback,
                      Unmanaged.passRetained(counters).toOpaque(), { data in
        if let data { Unmanaged<StreamCounters>.fromOpaque(data).release() }
    })
}

/// Adds a counting/checking probe on `padName` of `element`. Returns false when there is no such pad.
@discardableResult
func addProbe(_ element: UnsafeMutablePointer<GstElement>, pad padName: String, role: ProbeRole,
              counters: StreamCounters) -> Bool {
    guard let pad = gst_element_get_static_pad(element, padName) else { return false }
    defer { gst_object_unref(pad) }
    let context = Unmanaged.passRetained(ProbeContext(role: role, counters: counters)).toOpaque()
    let mask = GstPadProbeType(rawValue: GST_PAD_PROBE_TYPE_BUFFER.rawValue | GST_PAD_PROBE_TYPE_BUFFER_LIST.rawValue)
    gst_pad_add_probe(pad, mask, probeCallback, context, { data in
        if let data { Unmanaged<ProbeContext>.fromOpaque(data).release() }
    })
    return true
}
