import CGStreamer
import GStreamerBridge
import Synchronization

/// `rtpvp8e2eepay`: an RTP VP8 payloader (RFC 7741) for end-to-end encrypted frames.
///
/// GStreamer 1.22's `rtpvp8pay` bool-decodes each frame's first partition to find the partition
/// boundaries and refuses frames it cannot parse, so it cannot carry frames encrypted after
/// their first 10 (key) / 3 (delta) bytes, the layout browsers use (SFrame `clear=web`). This
/// payloader reads only the 3-byte frame tag (key frame or not) and sends each frame as browsers
/// do when partitions are unknown: PID 0, S=1 on the first packet only, a 15-bit picture ID that
/// grows by one per frame, the marker bit on the frame's last packet. Everything else (`pt`,
/// `mtu`, `ssrc`, sequence numbers, timestamps, `stats`, header extensions, flushing and EOS)
/// is GstRTPBasePayload's, so it drops into webrtcbin pipelines where `rtpvp8pay` would go.
final class RtpVP8E2EEPayElement: RTPBasePayloadSubclass, HasSettings, @unchecked Sendable {
    static let category = DebugCategory("rtpvp8e2eepay", description: "Swift RTP VP8 payloader for end-to-end encrypted frames")

    override class var typeName: String { "GstRtpVP8E2EEPay" }
    override class var metadata: ElementMetadata {
        ElementMetadata(
            longName: "RTP VP8 payloader for encrypted frames",
            classification: "Codec/Payloader/Network/RTP",
            description: "Puts VP8 video in RTP packets (RFC 7741) reading only each frame's 3-byte tag, so frames encrypted after their first bytes (SFrame clear=web, as browsers send) are carried; rtpvp8pay parses the first partition and refuses them",
            author: "gst-insertable-streams developers")
    }
    override class var padTemplates: [PadTemplateSpec] {
        [PadTemplateSpec(name: "sink", direction: GST_PAD_SINK, caps: "video/x-vp8"),
         PadTemplateSpec(name: "src", direction: GST_PAD_SRC,
                         caps: "application/x-rtp, media=(string)video, payload=(int)[ 96, 127 ], clock-rate=(int)90000, encoding-name=(string)VP8")]
    }
    struct Settings: ElementSettings {
        var pictureIDMode = VP8PictureIDMode.fifteenBit
        var pictureIDOffset: Int32 = -1
    }
    override class var properties: [PropertyDeclaration] {
        [ElementProperty<RtpVP8E2EEPayElement>]([
            .enumeration("picture-id-mode", nick: "Picture ID mode",
                         blurb: "Picture ID field of the payload descriptor (same values as rtpvp8pay's): none, 7-bit, or 15-bit as browsers send; it grows by one per frame (and on gaps and flushes) so receivers see lost frames",
                         \.pictureIDMode),
            .int("picture-id-offset", nick: "Picture ID offset",
                 blurb: "Picture ID of the first frame after the element starts (masked to the mode's bits); -1 = random, as RFC 7741 recommends",
                 range: -1...0x7fff, \.pictureIDOffset),
            .init(spec: PropertySpec("picture-id", nick: "Picture ID",
                                     blurb: "Picture ID the next frame will carry (0 with picture-id-mode=none)",
                                     .int(min: 0, max: 0x7fff, default: 0), flags: .readOnly),
                  write: { _, _ in }, read: { .int(Int32($0.state.withLock { $0.pictureID })) }),
            .counter("skipped-frames", nick: "Skipped frames",
                     blurb: "Input buffers dropped because they were shorter than a VP8 frame tag (3 bytes); a warning says so at most once a second") {
                $0.state.withLock { $0.skippedFrames }
            },
        ]).map(\.declaration)
    }

    let settings = SettingsStore(Settings())
    struct State {
        /// The picture ID of the next frame.
        var pictureID: UInt16 = 0
        var skippedFrames: UInt64 = 0
        /// Skipped frames not reported yet, and when the last warning went out (µs, monotonic).
        var unreportedSkips = 0
        var lastSkipWarning: Int64?
    }
    let state = Mutex(State())

    required init(element: UnsafeMutablePointer<GstElement>) {
        super.init(element: element)
        resetPictureID()
    }

    // MARK: picture IDs

    /// The first picture ID of a stream: the offset, or random (RFC 7741 §4.2), masked to the mode.
    private func resetPictureID() {
        let settings = settings.value
        let first = settings.pictureIDOffset >= 0 ? UInt16(settings.pictureIDOffset) : UInt16(truncatingIfNeeded: g_random_int())
        let masked = first & settings.pictureIDMode.mask
        state.withLock { $0.pictureID = masked }
        Self.category.debug("picture ID starts at \(masked) (\(settings.pictureIDMode.rawValue))", object: self)
    }

    /// The picture ID for the frame being sent; the next frame gets the following one.
    func takePictureID(_ mode: VP8PictureIDMode) -> UInt16 {
        state.withLock { state in
            let current = state.pictureID & mode.mask
            state.pictureID = (current &+ 1) & mode.mask
            return current
        }
    }

    // MARK: GstElement

    override func changeState(_ transition: GstStateChange) -> GstStateChangeReturn {
        if transition == GST_STATE_CHANGE_READY_TO_PAUSED {
            resetPictureID()
            state.withLock { $0.unreportedSkips = 0; $0.lastSkipWarning = nil }
        }
        return super.changeState(transition)
    }

    // MARK: GstRTPBasePayload

    override func setCaps(_ caps: UnsafeMutablePointer<GstCaps>) -> Bool {
        setOptions(media: "video", dynamic: true, encodingName: "VP8", clockRate: 90000)
        let accepted = setOutputCaps()
        if !accepted { Self.category.warning("downstream refused RTP VP8 caps for \(describeCaps(caps))", object: self) }
        return accepted
    }

    override func sinkEvent(_ event: UnsafeMutablePointer<GstEvent>) -> Bool {
        let type = swift_event_type(event)
        if type == GST_EVENT_GAP || type == GST_EVENT_FLUSH_START {
            // Frames were lost or discarded: a receiver should see a jump in picture IDs.
            _ = takePictureID(settings.value.pictureIDMode)
        }
        return super.sinkEvent(event)
    }

    override func handleBuffer(_ buffer: UnsafeMutablePointer<GstBuffer>) -> GstFlowReturn {
        defer { gst_buffer_unref(buffer) }
        let size = Int(gst_buffer_get_size(buffer))
        var tagBytes = [UInt8](repeating: 0, count: VP8FrameTag.length)
        let copied = tagBytes.withUnsafeMutableBytes { gst_buffer_extract(buffer, 0, $0.baseAddress, gsize($0.count)) }
        guard let tag = VP8FrameTag(tagBytes.prefix(Int(copied))) else {
            skip(size: size)
            return GST_FLOW_OK
        }
        return packetize(buffer, size: size, tag: tag, mode: settings.value.pictureIDMode)
    }

    /// Drops a buffer too short to be a VP8 frame, with a warning at most once a second.
    private func skip(size: Int) {
        let now = Int64(g_get_monotonic_time())
        let report: (total: UInt64, unreported: Int)? = state.withLock { state in
            state.skippedFrames += 1
            state.unreportedSkips += 1
            if let last = state.lastSkipWarning, now - last < 1_000_000 { return nil }
            defer { state.unreportedSkips = 0; state.lastSkipWarning = now }
            return (state.skippedFrames, state.unreportedSkips)
        }
        guard let report else { return }
        let others = report.unreported > 1 ? " (\(report.unreported - 1) more since the last warning)" : ""
        postWarning(.stream(GST_STREAM_ERROR_FORMAT),
                    "Skipped a \(size)-byte buffer: a VP8 frame starts with a 3-byte frame tag, so it cannot be payloaded\(others)",
                    debug: "\(report.total) input buffers skipped so far; the stream continues")
    }
}
