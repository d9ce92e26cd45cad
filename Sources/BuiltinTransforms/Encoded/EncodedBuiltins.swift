import EncodedStreams
import MediaStreams

/// The encoded transforms `rtpscripttransform`'s `worker` can name out of the box.
public enum EncodedBuiltins {
    public static let descriptors: [EncodedTransformDescriptor] = [
        EncodedTransformDescriptor(name: "identity", summary: "passes encoded frames unchanged") { _, _ in IdentityTransformer<EncodedFrame>() },
        EncodedTransformDescriptor(
            name: "negate",
            summary: "inverts every byte a payloader does not need (the MDN example); the same transform on the receive side restores the frames",
            parameters: [TransformParameterInfo(
                "clear", "bytes kept as the encoder wrote them: gstreamer (what GStreamer 1.22's payloaders parse, default), web (the browser E2EE layout: VP8 10/3 bytes), none (every byte, as MDN; opaque payloaders only)")]
        ) { parameters, _ in
            let policy = try parameters.choice("clear", default: ClearBytesPolicy.gstreamer.rawValue,
                                               among: ClearBytesPolicy.allCases.map(\.rawValue))
            return NegateTransform(policy: ClearBytesPolicy(rawValue: policy)!)
        },
        EncodedTransformDescriptor(
            name: "sframe",
            summary: "end-to-end encryption with SFrame (RFC 9605): encrypts on the send side, authenticates and decrypts on the receive side; keys in options (key=, key-id=, keys=) and post-message (set-key, add-key, remove-key, get-stats)",
            parameters: [
                TransformParameterInfo("suite", "cipher suite: a registry name or number, AES_128_GCM_SHA256_128 (0x0004, default), AES_256_GCM_SHA512_128 (0x0005), AES_128_CTR_HMAC_SHA256_80/64/32 (0x0001-0x0003), AES_256_CTR_HMAC_SHA512_80/64/32 (0x0006-0x0008)"),
                TransformParameterInfo("clear", "codec bytes left clear and authenticated: gstreamer (what GStreamer 1.22's payloaders parse, default), web (the browser E2EE layout; rtpvp8pay refuses VP8 so protected), none (encrypt everything; Opus or rtpgstpay only)"),
                TransformParameterInfo("wait-for-key-frame", "video receivers drop frames after a refused frame until a key frame decrypts, and ask for one: true (default) or false"),
                TransformParameterInfo("replay-window", "receivers refuse a frame counter already accepted or older than the 64 before the newest: true (default) or false"),
            ]
        ) { parameters, context in try SFrameTransform(parameters: parameters, options: context.options) },
        EncodedTransformDescriptor(
            name: "framecryptor",
            summary: "end-to-end encryption in LiveKit's and Jitsi's frame format (AES-GCM, IV and key index trailer), byte-compatible with their SDKs; keys in options (passphrase=, key=, key-index=) and post-message (set-key, ratchet-key, get-stats)",
            parameters: FrameCryptorTransform.parameters
        ) { parameters, context in try FrameCryptorTransform(parameters: parameters, options: context.options) },
    ]
}
