import EncodedStreams
import MediaStreams

/// The transforms `worker` can name out of the box.
public enum BuiltinTransforms {
    /// Adds every built-in raw-frame transform to `TransformRegistry` and every built-in
    /// encoded-frame transform to `EncodedTransformRegistry` (idempotent).
    public static func registerAll() {
        for descriptor in descriptors { TransformRegistry.register(descriptor) }
        for descriptor in EncodedBuiltins.descriptors { EncodedTransformRegistry.register(descriptor) }
    }

    public static let descriptors: [TransformDescriptor] = [
        TransformDescriptor(name: "identity", summary: "passes frames unchanged") { _, _ in IdentityTransformer<MediaFrame>() },
        TransformDescriptor(name: "mirror", summary: "flips the picture horizontally (the MDN example)") { _, _ in MirrorTransform() },
        TransformDescriptor(name: "sepia", summary: "sepia tone, RGB formats (the MDN example)") { _, _ in SepiaTransform() },
        TransformDescriptor(name: "grayscale",
                            summary: "removes colour: RGB gets BT.601 luma Y = 0.299 R + 0.587 G + 0.114 B in R, G, B; YUV keeps Y and sets chroma to 128") { _, _ in
            GrayscaleTransform()
        },
        TransformDescriptor(name: "invert", summary: "negative picture: every colour sample v becomes 255 - v (RGB alpha kept; Y, U and V for YUV)") { _, _ in
            InvertTransform()
        },
        TransformDescriptor(
            name: "blur", summary: "background blur: box blur applied three times (close to a Gaussian of sigma ≈ radius), every plane, edges clamped",
            parameters: [TransformParameterInfo("radius", "box radius in pixels, integer 1...64 (default 8); subsampled chroma uses it divided by the subsampling")]
        ) { parameters, _ in
            BlurTransform(radius: try parameters.integer("radius", default: 8, range: 1...64))
        },
        TransformDescriptor(
            name: "delay", summary: "sleeps per frame, then passes it on: a slow consumer, to watch the ring drop frames",
            parameters: [TransformParameterInfo("ms", "milliseconds to sleep per frame, integer 0...10000 (default 100)")]
        ) { parameters, _ in
            DelayTransform(milliseconds: try parameters.integer("ms", default: 100, range: 0...10000))
        },
        TransformDescriptor(
            name: "gain", summary: "audio volume: multiplies samples (s16 saturates, f32 unclamped); give db or factor, not both",
            parameters: [TransformParameterInfo("db", "gain in decibels, number -60...24 (default 0); factor = 10^(db/20)"),
                         TransformParameterInfo("factor", "linear multiplier, number 0...16 (default 1)")]
        ) { parameters, _ in
            if parameters.string("db") != nil, parameters.string("factor") != nil {
                throw TransformSpecError("transform 'gain': only one of db and factor may be given (e.g. gain db=-6 or gain factor=0.5)")
            }
            if parameters.string("factor") != nil {
                return GainTransform(factor: try parameters.number("factor", default: 1, range: 0...16))
            }
            return GainTransform(factor: GainTransform.factor(decibels: try parameters.number("db", default: 0, range: -60...24)))
        },
        TransformDescriptor(
            name: "pip",
            summary: "picture-in-picture: draws the latest frame of another trackprocessor (source=) into a corner; both must have the same format (RGBA, RGBx, BGRA, BGRx or I420)",
            parameters: [
                TransformParameterInfo("source", "name of the trackprocessor whose frames are the inset (required)"),
                TransformParameterInfo("position", "corner: top-left, top-right, bottom-left or bottom-right (default bottom-right)"),
                TransformParameterInfo("scale", "inset width as a fraction of the main width, number 0.05...1.0 (default 0.25); the inset keeps its aspect ratio"),
                TransformParameterInfo("margin", "distance from the corner's edges in pixels, integer 0...1000 (default 16)"),
            ]
        ) { parameters, context in
            let source = try parameters.requiredString(
                "source", hint: "name the trackprocessor that carries the inset, e.g. pip source=presenter")
            let position = try parameters.choice(
                "position", default: PictureInPictureTransform.Corner.bottomRight.rawValue,
                among: PictureInPictureTransform.Corner.allCases.map(\.rawValue))
            return PictureInPictureTransform(
                sourceName: source, corner: PictureInPictureTransform.Corner(rawValue: position)!,
                scale: try parameters.number("scale", default: 0.25, range: 0.05...1.0),
                margin: try parameters.integer("margin", default: 16, range: 0...1000), context: context)
        },
    ]
}
