// What a loopback run sends and which transforms it places, and the figures it reports.

/// The video codec peer A sends.
public enum VideoCodec: String, Sendable, CaseIterable {
    /// `vp8enc` / `rtpvp8pay` → `rtpvp8depay` / `vp8dec`.
    case vp8
    /// `openh264enc` (constrained baseline) / `rtph264pay` → `rtph264depay` / `avdec_h264` (or `openh264dec`).
    case h264
}

/// What to send from peer A (`sender`) to peer B (`receiver`) and which transforms to insert.
///
/// A transform is a gst-launch description (`"identity silent=true"`, `"rtpscripttransform worker=negate"`)
/// or `nil` for none. Send transforms sit between encoder and payloader, receive transforms between
/// depayloader and decoder. A description of ONE element yields that element, renamed
/// `send_video_transform`, `send_audio_transform`, `recv_video_transform` or `recv_audio_transform`;
/// a description of several elements yields a bin with ghost pads that carries the name instead
/// (its children keep their own names; `WebRTCLoopback.element(named:)` finds them too).
public struct LoopbackConfiguration: Sendable {
    /// The example program's transform on both ends: the MDN example (invert the bytes of every
    /// encoded frame on the send side, restore them on the receive side).
    public static let defaultTransform = "rtpscripttransform worker=negate"
    /// A key for demonstrations and tests (never use a published key for real calls).
    public static let demoKey = "000102030405060708090a0b0c0d0e0f"

    /// End-to-end encryption: `rtpscripttransform` running `sframe` with one key (the sender's,
    /// or the one a receiver starts with). Use it on both ends.
    /// `clear`: the clear-bytes layout (`gstreamer`, the default, `web` or `none`): both ends of
    /// a stream must use the same one.
    public static func sframeTransform(key: String = demoKey, keyID: UInt64 = 1, suite: String? = nil, clear: String? = nil) -> String {
        let worker = (["sframe"] + (suite.map { ["suite=\($0)"] } ?? []) + (clear.map { ["clear=\($0)"] } ?? [])).joined(separator: " ")
        return "rtpscripttransform worker=\"\(worker)\" options=\"sframe,key=(string)\(key),key-id=(guint64)\(keyID)\""
    }

    /// A passphrase for demonstrations and tests of the LiveKit format (never use it for real calls).
    public static let demoPassphrase = "insertable streams demo"

    /// End-to-end encryption in a deployed system's frame format: `rtpscripttransform` running
    /// `framecryptor` (`profile` livekit or jitsi) with a passphrase at key index `keyIndex`;
    /// `parameters` are further worker parameters (`ratchet-window-size`, ...). The passphrase
    /// may hold any characters: it is quoted for the options structure and again for gst-launch.
    public static func frameCryptorTransform(passphrase: String, keyIndex: Int = 0, profile: String = "livekit",
                                             parameters: [(String, String)] = []) -> String {
        let worker = (["framecryptor", "profile=\(profile)"] + parameters.map { "\($0.0)=\($0.1)" }).joined(separator: " ")
        let options = "framecryptor, passphrase=(string)\(quoted(passphrase)), key-index=(int)\(keyIndex)"
        return "rtpscripttransform worker=\"\(worker)\" options=\(quoted(options))"
    }

    /// `text` in double quotes with `\` and `"` escaped: a string value of a GstStructure text,
    /// and a property value of a gst-launch description (both unescape it).
    public static func quoted(_ text: String) -> String {
        var quoted = "\""
        for character in text {
            if character == "\\" || character == "\"" { quoted.append("\\") }
            quoted.append(character)
        }
        return quoted + "\""
    }

    /// A transform that changes nothing (a thread hop), for comparison.
    public static let passThrough = "identity silent=true"

    /// Video codec, or `nil` to send no video.
    public var videoCodec: VideoCodec?
    /// Whether to send a 440 Hz Opus sine as well.
    public var audio: Bool
    public var sendVideoTransform: String?
    public var receiveVideoTransform: String?
    public var sendAudioTransform: String?
    public var receiveAudioTransform: String?
    /// Jitter-buffer latency of both webrtcbins, in milliseconds (webrtcbin's default is 200).
    public var latencyMilliseconds: UInt32
    /// DCT (token) partitions of each VP8 frame: 1, 2, 4 or 8 (vp8enc `token-partitions`).
    /// More than one exercises the partition-size table that sframe's default layout keeps clear.
    public var vp8TokenPartitions = 1
    /// The VP8 payloader: `rtpvp8pay`, or `rtpvp8e2eepay`, which reads only the frame tag and
    /// so carries frames encrypted in the browsers' layout (`sframe clear=web`, 10/3 bytes clear)
    /// that `rtpvp8pay` refuses.
    public var vp8Payloader = "rtpvp8pay"

    public init(videoCodec: VideoCodec? = .vp8, audio: Bool = true,
                sendVideoTransform: String? = nil, receiveVideoTransform: String? = nil,
                sendAudioTransform: String? = nil, receiveAudioTransform: String? = nil,
                latencyMilliseconds: UInt32 = 200) {
        self.videoCodec = videoCodec
        self.audio = audio
        self.sendVideoTransform = sendVideoTransform
        self.receiveVideoTransform = receiveVideoTransform
        self.sendAudioTransform = sendAudioTransform
        self.receiveAudioTransform = receiveAudioTransform
        self.latencyMilliseconds = latencyMilliseconds
    }

    /// The same transform description (or none) on every side and kind.
    public mutating func setTransforms(send: String?, receive: String?) {
        sendVideoTransform = send
        sendAudioTransform = send
        receiveVideoTransform = receive
        receiveAudioTransform = receive
    }
}

/// The figures of one kind of media (video or audio). Counts since `start()`.
public struct StreamStatistics: Sendable, Equatable {
    /// Encoded frames entering the payloader (after the send transform).
    public var framesSent = 0
    /// Of those, frames without `GST_BUFFER_FLAG_DELTA_UNIT`. (Every Opus frame counts as a key frame.)
    public var keyFramesSent = 0
    /// Encoded frames leaving the depayloader (before the receive transform).
    public var framesReceived = 0
    public var keyFramesReceived = 0
    /// Raw buffers leaving the decoder.
    public var framesDecoded = 0
    /// Decoded frames that still look like the source: for video the seven top SMPTE bars
    /// (sampled at y = height/3), for audio a zero-crossing rate of 880/s ± 15 %.
    public var intactFrames = 0
    /// Picture loss indications / full intra requests / NACKs the sender received (RTCP from
    /// peer B), from `sender`'s `get-stats` (`outbound-rtp` fields `pli-count`, `fir-count`,
    /// `nack-count`). GStreamer 1.22's rtpsession does not count received FIRs (always 0): see
    /// `keyFrameRequests`. Zero for audio in practice.
    public var pliCount = 0
    public var firCount = 0
    public var nackCount = 0
    /// Upstream force-key-unit events (from PLI or FIR) that reached the encoder's src pad, i.e.
    /// got through the send transform.
    public var keyFrameRequests = 0

    public init() {}

    /// `intactFrames` / `framesSent` (1 when nothing was sent).
    public var intactRatio: Double { framesSent == 0 ? 1 : Double(intactFrames) / Double(framesSent) }

    /// The difference of two snapshots, e.g. to leave out a warm-up period.
    public static func - (later: StreamStatistics, earlier: StreamStatistics) -> StreamStatistics {
        var difference = StreamStatistics()
        difference.framesSent = later.framesSent - earlier.framesSent
        difference.keyFramesSent = later.keyFramesSent - earlier.keyFramesSent
        difference.framesReceived = later.framesReceived - earlier.framesReceived
        difference.keyFramesReceived = later.keyFramesReceived - earlier.keyFramesReceived
        difference.framesDecoded = later.framesDecoded - earlier.framesDecoded
        difference.intactFrames = later.intactFrames - earlier.intactFrames
        difference.pliCount = later.pliCount - earlier.pliCount
        difference.firCount = later.firCount - earlier.firCount
        difference.nackCount = later.nackCount - earlier.nackCount
        difference.keyFrameRequests = later.keyFrameRequests - earlier.keyFrameRequests
        return difference
    }
}

/// A snapshot of a loopback run.
public struct LoopbackStatistics: Sendable, Equatable {
    public var video = StreamStatistics()
    public var audio = StreamStatistics()
    /// Seconds since `start()`.
    public var elapsed: Double = 0
    /// Whether the PLI/FIR/NACK figures come from a `get-stats` reply of this call (false: an
    /// older reply, or none yet).
    public var senderStatsFresh = false

    public init() {}

    public static func - (later: LoopbackStatistics, earlier: LoopbackStatistics) -> LoopbackStatistics {
        var difference = LoopbackStatistics()
        difference.video = later.video - earlier.video
        difference.audio = later.audio - earlier.audio
        difference.elapsed = later.elapsed - earlier.elapsed
        difference.senderStatsFresh = later.senderStatsFresh
        return difference
    }
}

/// Why a loopback could not be built or started.
public struct LoopbackError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
