import CGStreamer
import EncodedStreams
import Synchronization

/// Where the RTP metadata of a frame comes from.
///
/// - Receive side: a pad probe on the adjacent depayloader's sink pad reads every RTP packet
///   (SSRC, CSRCs, payload type, RTP timestamp, sequence number) and files it under the
///   packet's PTS, which the depayloader gives the frame it outputs; a GstRTPSourceMeta on the
///   frame (depayloader `source-info=true`) takes precedence for SSRC and CSRCs.
/// - Send side: the adjacent payloader's negotiated src caps give payload type, SSRC and
///   timestamp-offset; the RTP timestamp is predicted the way GstRTPBasePayload computes it
///   (timestamp-offset + running time × clock-rate).
final class RTPStreamInfoSource: @unchecked Sendable {
    private enum Mode {
        case receive(depayloader: UnsafeMutablePointer<GstElement>, pad: UnsafeMutablePointer<GstPad>, probe: gulong)
        case send(payloader: UnsafeMutablePointer<GstElement>)
        case none
    }

    private let mode: Mode
    private let packets = PacketLog()
    private var cachedCaps: UnsafeMutablePointer<GstCaps>?
    private var cachedSend = SendParameters()

    private struct SendParameters {
        var payloadType: UInt8?
        var ssrc: UInt32?
        var timestampOffset: UInt32?
        var clockRate: UInt64?
    }

    /// Finds the neighbour for `side` and starts listening to it.
    init(side: TransformSide, sinkPad: UnsafeMutablePointer<GstPad>, srcPad: UnsafeMutablePointer<GstPad>) {
        switch side {
        case .receive:
            guard let depayloader = Neighbours.adjacent(.depayloader, from: sinkPad),
                  let pad = Neighbours.firstPad(of: depayloader, direction: GST_PAD_SINK) else {
                mode = .none
                return
            }
            let log = Unmanaged.passRetained(packets).toOpaque()
            let types = GstPadProbeType(rawValue: GST_PAD_PROBE_TYPE_BUFFER.rawValue | GST_PAD_PROBE_TYPE_BUFFER_LIST.rawValue)
            let probe = gst_pad_add_probe(pad, types, { _, info, data in
                guard let info, let data, let item = info.pointee.data else { return GST_PAD_PROBE_OK }
                let log = Unmanaged<PacketLog>.fromOpaque(data).takeUnretainedValue()
                if info.pointee.type.rawValue & GST_PAD_PROBE_TYPE_BUFFER_LIST.rawValue != 0 {
                    let list = OpaquePointer(item)
                    for index in 0..<gst_buffer_list_length(list) {
                        if let buffer = gst_buffer_list_get(list, index) { log.record(buffer) }
                    }
                } else {
                    log.record(item.assumingMemoryBound(to: GstBuffer.self))
                }
                return GST_PAD_PROBE_OK
            }, log, { data in
                if let data { Unmanaged<PacketLog>.fromOpaque(data).release() }
            })
            mode = .receive(depayloader: depayloader, pad: pad, probe: probe)
        case .send:
            if let payloader = Neighbours.adjacent(.payloader, from: srcPad) {
                mode = .send(payloader: payloader)
            } else {
                mode = .none
            }
        }
    }

    deinit {
        switch mode {
        case .receive(let depayloader, let pad, let probe):
            gst_pad_remove_probe(pad, probe)
            gst_object_unref(pad)
            gst_object_unref(depayloader)
        case .send(let payloader):
            gst_object_unref(payloader)
        case .none:
            break
        }
        if let cachedCaps { gst_caps_unref(cachedCaps) }
    }

    /// The neighbour it reads from, for logs.
    var neighbourName: String? {
        switch mode {
        case .receive(let element, _, _), .send(let element):
            String(cString: swift_object_name(UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstObject.self)))
        case .none: nil
        }
    }

    /// Metadata for `buffer`; `runningTime` is the buffer's running time (send side).
    /// Called on the worker thread only.
    func info(for buffer: UnsafeMutablePointer<GstBuffer>, runningTime: UInt64?) -> RTPStreamInfo {
        var info = RTPStreamInfo()
        switch mode {
        case .receive:
            let pts = swift_buffer_pts(buffer)
            if pts != swift_clock_time_none(), let packet = packets.lookup(UInt64(pts)) { info = packet }
        case .send(let payloader):
            refreshSendParameters(payloader)
            info.payloadType = cachedSend.payloadType
            info.synchronizationSource = cachedSend.ssrc
            if let offset = cachedSend.timestampOffset, let rate = cachedSend.clockRate, let runningTime {
                let ticks = UInt64(gst_util_uint64_scale_int(guint64(runningTime), gint(rate), 1_000_000_000))
                info.rtpTimestamp = UInt32(truncatingIfNeeded: UInt64(offset) &+ ticks)
            }
        case .none:
            break
        }
        if let meta = gst_buffer_get_rtp_source_meta(buffer) {
            if meta.pointee.ssrc_valid != 0 { info.synchronizationSource = meta.pointee.ssrc }
            let count = Int(meta.pointee.csrc_count)
            if count > 0 {
                info.contributingSources = withUnsafeBytes(of: meta.pointee.csrc) { raw in
                    Array(raw.bindMemory(to: UInt32.self).prefix(count))
                }
            }
        }
        return info
    }

    /// Re-reads the payloader's src caps when they changed (compared by identity).
    private func refreshSendParameters(_ payloader: UnsafeMutablePointer<GstElement>) {
        guard let pad = Neighbours.firstPad(of: payloader, direction: GST_PAD_SRC) else { return }
        defer { gst_object_unref(pad) }
        guard let caps = gst_pad_get_current_caps(pad) else { return }
        if caps == cachedCaps {
            gst_caps_unref(caps)
            return
        }
        if let cachedCaps { gst_caps_unref(cachedCaps) }
        cachedCaps = caps
        cachedSend = SendParameters()
        guard let structure = gst_caps_get_structure(caps, 0) else { return }
        var signed: gint = 0
        var unsigned: guint = 0
        if gst_structure_get_int(structure, "payload", &signed) != 0 { cachedSend.payloadType = UInt8(truncatingIfNeeded: signed) }
        if gst_structure_get_int(structure, "clock-rate", &signed) != 0, signed > 0 { cachedSend.clockRate = UInt64(signed) }
        if gst_structure_get_uint(structure, "ssrc", &unsigned) != 0 { cachedSend.ssrc = unsigned }
        if gst_structure_get_uint(structure, "timestamp-offset", &unsigned) != 0 { cachedSend.timestampOffset = unsigned }
    }
}

/// The last RTP packets seen entering the depayloader, by PTS. Written on the depayloader's
/// streaming thread, read on the transform's worker thread.
final class PacketLog: Sendable {
    private static let capacity = 256
    private struct Entries {
        var byPTS: [UInt64: RTPStreamInfo] = [:]
        var order: [UInt64] = []
    }
    private let entries = Mutex(Entries())

    func record(_ buffer: UnsafeMutablePointer<GstBuffer>) {
        let pts = swift_buffer_pts(buffer)
        guard pts != swift_clock_time_none() else { return }
        var rtp = GstRTPBuffer()
        guard gst_rtp_buffer_map(buffer, GST_MAP_READ, &rtp) != 0 else { return }
        var info = RTPStreamInfo()
        info.synchronizationSource = gst_rtp_buffer_get_ssrc(&rtp)
        info.payloadType = gst_rtp_buffer_get_payload_type(&rtp)
        info.rtpTimestamp = gst_rtp_buffer_get_timestamp(&rtp)
        info.sequenceNumber = gst_rtp_buffer_get_seq(&rtp)
        let csrcCount = gst_rtp_buffer_get_csrc_count(&rtp)
        info.contributingSources = (0..<csrcCount).map { gst_rtp_buffer_get_csrc(&rtp, $0) }
        gst_rtp_buffer_unmap(&rtp)
        let key = UInt64(pts)
        entries.withLock { entries in
            // A frame's first packet names it (its sequence number is the frame's).
            guard entries.byPTS[key] == nil else { return }
            entries.byPTS[key] = info
            entries.order.append(key)
            if entries.order.count > Self.capacity {
                entries.byPTS[entries.order.removeFirst()] = nil
            }
        }
    }

    func lookup(_ pts: UInt64) -> RTPStreamInfo? {
        entries.withLock { $0.byPTS[pts] }
    }
}
