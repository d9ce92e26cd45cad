import MediaStreams

/// The transforms `worker` can name out of the box.
public enum BuiltinTransforms {
    /// Adds every built-in transform to `TransformRegistry` (idempotent).
    public static func registerAll() {
        for descriptor in descriptors { TransformRegistry.register(descriptor) }
    }

    public static let descriptors: [TransformDescriptor] = [
        TransformDescriptor(name: "identity", summary: "passes frames unchanged") { _, _ in Identity() },
        TransformDescriptor(name: "mirror", summary: "flips the picture horizontally (the MDN example)") { _, _ in MirrorTransform() },
        TransformDescriptor(name: "sepia", summary: "sepia tone, RGB formats (the MDN example)") { _, _ in SepiaTransform() },
    ]
}

/// Passes every frame on unchanged.
final class Identity: FrameTransformer {
    func transform(_ frame: MediaFrame, controller: TransformController) throws { try controller.enqueue(frame) }
}
