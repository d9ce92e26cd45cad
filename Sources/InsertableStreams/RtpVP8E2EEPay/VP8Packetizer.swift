import CGStreamer
import GStreamerBridge

// `rtpvp8e2eepay`'s behaviour: one VP8 frame in, RTP packets out (RFC 7741), reading nothing but
// the 3-byte frame tag. The descriptor and the split are plain values (tested without
// GStreamer); `packetize` builds and pushes the packets.

/// The VP8 frame tag (RFC 6386 §9.1): the first 3 bytes of every frame, which every SFrame
/// layout (and the web's 10/3-byte layout) keeps clear. Nothing after it is read.
struct VP8FrameTag: Equatable {
    static let length = 3
    /// Bit 0 of byte 0 is 0 on key frames.
    let isKeyFrame: Bool
    let version: UInt8
    let showFrame: Bool
    /// Size of the first partition as the encoder wrote it (19 bits). Informational only: the
    /// frame may have been rewritten after the tag, so it is never used to find partitions.
    let firstPartitionSize: UInt32

    init?<Bytes: Collection<UInt8>>(_ bytes: Bytes) {
        guard bytes.count >= Self.length else { return nil }
        let tag = Array(bytes.prefix(Self.length))
        isKeyFrame = tag[0] & 0x01 == 0
        version = (tag[0] >> 1) & 0x07
        showFrame = tag[0] & 0x10 != 0
        firstPartitionSize = UInt32(tag[2]) << 11 | UInt32(tag[1]) << 3 | UInt32(tag[0] >> 5)
    }
}

/// The picture ID field of the payload descriptor, as `rtpvp8pay`'s `picture-id-mode`
/// (same nicks and numbers).
enum VP8PictureIDMode: String, PropertyEnum {
    case noPictureID = "none"
    case sevenBit = "7-bit"
    case fifteenBit = "15-bit"

    static var gTypeName: String { "GstRtpVP8E2EEPayPictureIDMode" }
    var summary: String {
        switch self {
        case .noPictureID: "No Picture ID"
        case .sevenBit: "7-bit Picture ID"
        case .fifteenBit: "15-bit Picture ID (as browsers send)"
        }
    }
    /// The picture IDs this mode can carry: 0 ... mask.
    var mask: UInt16 {
        switch self {
        case .noPictureID: 0
        case .sevenBit: 0x7f
        case .fifteenBit: 0x7fff
        }
    }
}

/// The RFC 7741 §4.2 payload descriptor as browsers send it for a frame whose partition
/// boundaries are unknown: N=0, PID=0, S=1 on the frame's first packet only; with a picture ID,
/// X=1 and I=1 (M=1 for 15 bits); no TL0PICIDX, TID or KEYIDX.
struct VP8PayloadDescriptor: Equatable {
    var start: Bool
    var pictureID: UInt16
    var mode: VP8PictureIDMode

    /// Bytes of the descriptor: 1 without picture ID, 3 with a 7-bit one, 4 with a 15-bit one.
    static func length(_ mode: VP8PictureIDMode) -> Int {
        switch mode {
        case .noPictureID: 1
        case .sevenBit: 3
        case .fifteenBit: 4
        }
    }

    var bytes: [UInt8] {
        //          X        R  N  S               R  PID (0)
        let first: UInt8 = (mode == .noPictureID ? 0 : 0x80) | (start ? 0x10 : 0)
        switch mode {
        case .noPictureID:
            return [first]
        case .sevenBit:
            // I=1; M=0 and a 7-bit picture ID.
            return [first, 0x80, UInt8(pictureID & 0x7f)]
        case .fifteenBit:
            // I=1; M=1 and a 15-bit picture ID, most significant bits first.
            let id = pictureID & 0x7fff
            return [first, 0x80, 0x80 | UInt8(id >> 8), UInt8(id & 0xff)]
        }
    }
}

enum VP8Packetization {
    /// Splits a frame of `frameSize` bytes into as few packets as `maxPayload` allows, of
    /// sizes differing by at most one byte (as libwebrtc does), so no packet is a small tail.
    static func chunks(frameSize: Int, maxPayload: Int) -> [Range<Int>] {
        precondition(maxPayload > 0, "no room for payload")
        guard frameSize > 0 else { return [] }
        let count = (frameSize + maxPayload - 1) / maxPayload
        let base = frameSize / count, larger = frameSize % count
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(count)
        var offset = 0
        for index in 0..<count {
            let size = base + (index < larger ? 1 : 0)
            ranges.append(offset..<offset + size)
            offset += size
        }
        return ranges
    }
}

extension RtpVP8E2EEPayElement {
    /// Packetizes one frame (borrowed) whose tag was read, and pushes its packets as one list.
    func packetize(_ frame: UnsafeMutablePointer<GstBuffer>, size: Int, tag: VP8FrameTag,
                   mode: VP8PictureIDMode) -> GstFlowReturn {
        let descriptorLength = VP8PayloadDescriptor.length(mode)
        let sources = sourceCount(of: frame)
        let overhead = Int(gst_rtp_buffer_calc_header_len(UInt8(clamping: sources))) + descriptorLength
        let mtu = Int(self.mtu)
        guard mtu > overhead else {
            postError(.stream(GST_STREAM_ERROR_ENCODE),
                      "The mtu (\(mtu) bytes) leaves no room for VP8 data: an RTP header with \(sources) CSRCs and the \(descriptorLength)-byte VP8 payload descriptor take \(overhead) bytes",
                      debug: "set mtu above \(overhead) or picture-id-mode=none")
            return GST_FLOW_ERROR
        }
        let ranges = VP8Packetization.chunks(frameSize: size, maxPayload: mtu - overhead)
        let pictureID = takePictureID(mode)
        let pts = swift_buffer_pts(frame), duration = swift_buffer_duration(frame)
        guard let list = gst_buffer_list_new_sized(guint(ranges.count)) else { return GST_FLOW_ERROR }
        for (index, range) in ranges.enumerated() {
            let descriptor = VP8PayloadDescriptor(start: index == 0, pictureID: pictureID, mode: mode).bytes
            let isLast = index == ranges.count - 1
            let header = allocatePacket(payloadLength: UInt32(descriptor.count))
            guard let header, writeHeader(header, descriptor: descriptor, marker: isLast) else {
                if let header { gst_buffer_unref(header) }
                gst_buffer_list_unref(list)
                postError(.core(GST_CORE_ERROR_FAILED), "Could not allocate or map an RTP packet",
                          debug: "gst_rtp_base_payload_allocate_output_buffer / gst_rtp_buffer_map failed")
                return GST_FLOW_ERROR
            }
            if isLast { swift_buffer_set_flags(header, GST_BUFFER_FLAG_MARKER) }
            // Only the first packet of a key frame starts something a receiver can decode from.
            if !(tag.isKeyFrame && index == 0) { swift_buffer_set_flags(header, GST_BUFFER_FLAG_DELTA_UNIT) }
            swift_buffer_set_pts(header, pts)
            swift_buffer_set_duration(header, duration)
            // The frame's bytes are shared, not copied: the packet is header memory + a slice.
            let body = gst_buffer_copy_region(frame, GST_BUFFER_COPY_MEMORY, gsize(range.lowerBound), gsize(range.count))
            let packet = gst_buffer_append(header, body)
            swift_buffer_list_add(list, packet)
        }
        Self.category.log(GST_LEVEL_LOG, "\(tag.isKeyFrame ? "key" : "delta") frame of \(size) bytes, picture ID \(pictureID): \(ranges.count) packets, payload ≤ \(mtu - overhead) bytes",
                          object: self)
        return pushList(list)
    }

    /// Writes the payload descriptor and the marker bit into a freshly allocated packet.
    private func writeHeader(_ packet: UnsafeMutablePointer<GstBuffer>, descriptor: [UInt8], marker: Bool) -> Bool {
        var rtp = GstRTPBuffer()
        guard gst_rtp_buffer_map(packet, swift_map_readwrite(), &rtp) != 0 else { return false }
        let payload = gst_rtp_buffer_get_payload(&rtp)
        let fits = payload != nil && Int(gst_rtp_buffer_get_payload_len(&rtp)) == descriptor.count
        if let payload, fits {
            descriptor.withUnsafeBytes { payload.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            gst_rtp_buffer_set_marker(&rtp, marker ? 1 : 0)
        }
        gst_rtp_buffer_unmap(&rtp)
        return fits
    }
}
