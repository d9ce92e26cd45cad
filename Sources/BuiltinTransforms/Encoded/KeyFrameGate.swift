import EncodedStreams

/// A decrypting receiver's guard for video decoders: after a refused frame, frames that do
/// decrypt are held back until a key frame decrypts (the decoder would otherwise predict from
/// a picture it never got), and a key frame is asked for upstream, at most once a second.
struct KeyFrameGate {
    /// `wait-for-key-frame`: hold back deltas after a refusal (true), or only ask (false).
    let holdsDeltas: Bool
    /// A video frame was refused since the last key frame that decrypted.
    private(set) var awaitingKeyFrame = false
    private(set) var heldBack: UInt64 = 0
    private(set) var requests: UInt64 = 0
    private var lastRequest: ContinuousClock.Instant?

    init(holdsDeltas: Bool) {
        self.holdsDeltas = holdsDeltas
    }

    /// A frame of `codec` was refused.
    mutating func refused(_ codec: EncodedCodec) {
        if codec.kind == .video { awaitingKeyFrame = true }
    }

    /// Whether a frame that decrypted goes on to the decoder.
    mutating func admits(_ frame: EncodedFrame, controller: EncodedTransformController) -> Bool {
        guard awaitingKeyFrame, let video = frame as? EncodedVideoFrame else { return true }
        if video.type == .key {
            awaitingKeyFrame = false
            return true
        }
        guard holdsDeltas else { return true }
        heldBack += 1
        requestKeyFrame(controller: controller, force: false)
        return false
    }

    /// After a key change: frames refused for want of this key can now be followed by a key frame.
    mutating func keyChanged(controller: EncodedTransformController) {
        if awaitingKeyFrame { requestKeyFrame(controller: controller, force: true) }
    }

    /// `sendKeyFrameRequest()`, at most once a second unless `force`.
    mutating func requestKeyFrame(controller: EncodedTransformController, force: Bool) {
        let now = ContinuousClock.now
        if !force, let last = lastRequest, now - last < .seconds(1) { return }
        do {
            try controller.sendKeyFrameRequest()
            lastRequest = now
            requests += 1
        } catch {
            // Audio or no upstream path for the request: nothing to ask.
        }
    }
}
