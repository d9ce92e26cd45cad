// The call's keys and frame formats. SFrame never lets two senders share a key and counter,
// so each of the four senders of a call (GStreamer video/audio, browser video/audio) encrypts
// under its own key id, all derived from the base key of the current key generation. The
// LiveKit format shares one passphrase (key index 0) between everybody, as LiveKit's shared-key
// mode does; its IVs carry the sender's SSRC, so senders never share one.
import EncodedStreams
import WebRTCLoopback

/// The four senders of a call. The raw value is the low two bits of their key ids.
public enum CallSender: Int, Sendable, CaseIterable {
    case gstreamerVideo = 0, gstreamerAudio = 1, browserVideo = 2, browserAudio = 3

    /// Key id of this sender in `generation` (1, 2, ...): 4 × generation + sender. The page
    /// (sframe.js) uses the same rule.
    public func keyID(generation: Int) -> UInt64 { UInt64(4 * generation + rawValue) }
}

/// Which bytes of the GStreamer peer's VP8 frames stay clear, and the payloader that carries them.
public enum PeerVP8Layout: String, Sendable, CaseIterable {
    /// Frame header, first partition and partition-size table clear, what `rtpvp8pay` parses
    /// (the page reads the partition count from the first partition, as the plugin does).
    case gstreamer
    /// The browsers' own layout, 10 bytes clear on key frames and 3 on delta frames, carried by
    /// `rtpvp8e2eepay` (which reads only the frame tag; `rtpvp8pay` refuses such frames).
    case web

    /// The `clear=` parameter of the send transforms (nil: the default, `gstreamer`).
    var clearParameter: String? { self == .web ? "web" : nil }
    var payloader: String { self == .web ? "rtpvp8e2eepay" : "rtpvp8pay" }
}

/// What the GStreamer peer's transforms do to the encoded frames.
public enum CallMode: String, Sendable, CaseIterable {
    /// SFrame (RFC 9605), AES_128_GCM_SHA256_128, one key id per sender.
    case sframe
    /// LiveKit's frame format (`clear || AES-128-GCM || IV || 12 || keyIndex`), a shared
    /// passphrase at key index 0: the page's framecryptor.js and the plugin's `framecryptor`.
    case livekit
    /// The MDN example: every byte after the clear prefix inverted (no secrecy; the simplest check).
    case negate

    /// Why the GStreamer peer cannot run this mode, or nil: `livekit` needs the plugin's
    /// `framecryptor` transform. Call after the elements are registered.
    public var unavailableReason: String? {
        guard self == .livekit, !EncodedTransformRegistry.names.contains("framecryptor") else { return nil }
        return "this build of the plugin has no framecryptor transform (rtpscripttransform worker=framecryptor), which the GStreamer end of the LiveKit format needs"
    }

    /// The GStreamer peer's four transforms for this mode, keyed with `key` in `generation`
    /// (sframe) or with `passphrase` (livekit).
    ///
    /// Layouts (which bytes stay clear, `ClearBytesPolicy`): GStreamer's VP8 sender keeps what
    /// rtpvp8pay parses clear (header, first partition, partition table: the page computes the
    /// same split), or with `vp8Layout: .web` the browsers' layout through `rtpvp8e2eepay` (the
    /// page is told in the offer message); the browser's VP8 sender keeps the web layout (10
    /// bytes key / 3 delta), what Chromium's packetizer needs, so the GStreamer video receiver
    /// uses `clear=web`. Opus keeps its TOC byte clear both ways.
    ///
    /// livekit: every transform `framecryptor profile=livekit` with the passphrase; the VP8
    /// sender keeps LiveKit's 10/3 bytes clear, so it goes through `rtpvp8e2eepay` (`vp8Layout`
    /// is ignored); receivers read the codec from their caps.
    func peerConfiguration(key: String, generation: Int, vp8TokenPartitions: Int,
                           vp8Layout: PeerVP8Layout = .gstreamer,
                           passphrase: String = LoopbackConfiguration.demoPassphrase) -> LoopbackConfiguration {
        var configuration = LoopbackConfiguration(videoCodec: .vp8, audio: true)
        configuration.vp8TokenPartitions = vp8TokenPartitions
        configuration.vp8Payloader = (self == .livekit ? PeerVP8Layout.web : vp8Layout).payloader
        switch self {
        case .sframe:
            func transform(_ sender: CallSender, clear: String? = nil) -> String {
                LoopbackConfiguration.sframeTransform(key: key, keyID: sender.keyID(generation: generation), clear: clear)
            }
            configuration.sendVideoTransform = transform(.gstreamerVideo, clear: vp8Layout.clearParameter)
            configuration.sendAudioTransform = transform(.gstreamerAudio)
            configuration.receiveVideoTransform = transform(.browserVideo, clear: "web")
            configuration.receiveAudioTransform = transform(.browserAudio)
        case .livekit:
            let transform = LoopbackConfiguration.frameCryptorTransform(passphrase: passphrase)
            configuration.setTransforms(send: transform, receive: transform)
        case .negate:
            configuration.sendVideoTransform = vp8Layout == .web ? "rtpscripttransform worker=\"negate clear=web\"" : "rtpscripttransform worker=negate"
            configuration.sendAudioTransform = "rtpscripttransform worker=negate"
            configuration.receiveVideoTransform = "rtpscripttransform worker=\"negate clear=web\""
            configuration.receiveAudioTransform = "rtpscripttransform worker=negate"
        }
        return configuration
    }
}

/// The layout the page's video receiver must expect from the GStreamer peer in `mode`.
func peerVideoLayout(_ mode: CallMode, configured: PeerVP8Layout) -> PeerVP8Layout {
    mode == .livekit ? .web : configured
}

/// A base key given as hex: at least 16 bytes (what the plugin's sframe transform accepts).
func isValidBaseKey(_ hex: String) -> Bool {
    hex.count >= 32 && hex.count % 2 == 0 && hex.allSatisfy(\.isHexDigit)
}
