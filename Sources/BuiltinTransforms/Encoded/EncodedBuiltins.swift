import EncodedStreams
import MediaStreams

/// The encoded transforms `rtpscripttransform`'s `worker` can name out of the box.
public enum EncodedBuiltins {
    public static let descriptors: [EncodedTransformDescriptor] = [
        EncodedTransformDescriptor(name: "identity", summary: "passes encoded frames unchanged") { _, _ in EncodedIdentity() },
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
    ]
}

/// Passes every encoded frame on unchanged.
final class EncodedIdentity: EncodedFrameTransformer {
    func transform(_ frame: EncodedFrame, controller: EncodedTransformController) throws { try controller.enqueue(frame) }
}
