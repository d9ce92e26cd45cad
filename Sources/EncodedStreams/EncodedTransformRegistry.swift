import MediaStreams
import Synchronization

/// What an encoded transform's factory may use besides its parameters.
public struct EncodedTransformContext: Sendable {
    /// Name of the element that runs the transform (for messages).
    public let elementName: String
    /// The element's `options`.
    public let options: TransformMessage

    public init(elementName: String, options: TransformMessage) {
        self.elementName = elementName
        self.options = options
    }
}

public typealias EncodedTransformFactory = @Sendable (TransformParameters, EncodedTransformContext) throws -> EncodedFrameTransformer

/// An encoded transform that `rtpscripttransform`'s `worker` can name.
public struct EncodedTransformDescriptor: Sendable {
    public let name: String
    public let summary: String
    public let parameters: [TransformParameterInfo]
    public let factory: EncodedTransformFactory

    public init(name: String, summary: String, parameters: [TransformParameterInfo] = [],
                factory: @escaping EncodedTransformFactory) {
        self.name = name
        self.summary = summary
        self.parameters = parameters
        self.factory = factory
    }
}

/// The encoded transforms known by name, built-in and registered by applications. Descriptions
/// use the same syntax as `trackprocessor`'s: `negate ! identity`, `negate clear=none`.
public enum EncodedTransformRegistry {
    private static let table = Mutex<[String: EncodedTransformDescriptor]>([:])

    public static func register(_ descriptor: EncodedTransformDescriptor) {
        table.withLock { $0[descriptor.name] = descriptor }
    }

    public static var names: [String] { table.withLock { $0.keys.sorted() } }
    public static var descriptors: [EncodedTransformDescriptor] { table.withLock { $0.values.sorted { $0.name < $1.name } } }
    public static func descriptor(named name: String) -> EncodedTransformDescriptor? { table.withLock { $0[name] } }

    public static func makeTransformers(_ description: String, context: EncodedTransformContext) throws -> [EncodedFrameTransformer] {
        try TransformRegistry.resolve(description, noun: "encoded transform", known: names, lookup: descriptor(named:),
                                      parameters: \.parameters)
            .map { descriptor, parameters in try descriptor.factory(parameters, context) }
    }
}
