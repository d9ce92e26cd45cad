import Synchronization

/// A frame type that transforms can be registered for. `transformNoun` names its transforms in
/// messages ("transform", "encoded transform").
public protocol TransformableFrame {
    static var transformNoun: String { get }
}

/// Documents one parameter of a registered transform.
public struct TransformParameterInfo: Sendable {
    public let name: String
    public let summary: String
    public init(_ name: String, _ summary: String) {
        self.name = name
        self.summary = summary
    }
}

/// What a transform factory may use besides its parameters.
public struct TransformContext: Sendable {
    /// Name of the element that runs the transform (for messages).
    public let elementName: String
    /// The element's `options` (`RTCRtpScriptTransform`'s constructor options); empty when it has none.
    public let options: TransformMessage
    /// Finds a named resource of the process for transforms with secondary inputs (e.g. the
    /// frames of another `trackprocessor` for `pip source=NAME`); nil when there is none.
    public let resolve: @Sendable (String) -> (any Sendable)?

    public init(elementName: String, options: TransformMessage = TransformMessage("options"),
                resolve: @escaping @Sendable (String) -> (any Sendable)? = { _ in nil }) {
        self.elementName = elementName
        self.options = options
        self.resolve = resolve
    }
}

/// The `key=value` parameters of one step of a `worker` description, read with range checks.
public struct TransformParameters: Sendable {
    public let transformName: String
    private let values: [String: String]

    package init(transformName: String, values: [String: String]) {
        self.transformName = transformName
        self.values = values
    }

    public func integer(_ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = values[name] else { return value }
        guard let parsed = Int(text), range.contains(parsed) else {
            throw TransformSpecError("transform '\(transformName)': \(name)=\(SecretRedaction.shown(text, of: name)) is invalid; \(name) must be an integer from \(range.lowerBound) to \(range.upperBound) (default \(value))")
        }
        return parsed
    }

    public func number(_ name: String, default value: Double, range: ClosedRange<Double>) throws -> Double {
        guard let text = values[name] else { return value }
        guard let parsed = Double(text), parsed.isFinite, range.contains(parsed) else {
            throw TransformSpecError("transform '\(transformName)': \(name)=\(SecretRedaction.shown(text, of: name)) is invalid; \(name) must be a number from \(range.lowerBound) to \(range.upperBound) (default \(value))")
        }
        return parsed
    }

    public func choice(_ name: String, default value: String, among choices: [String]) throws -> String {
        guard let text = values[name] else { return value }
        guard choices.contains(text) else {
            throw TransformSpecError("transform '\(transformName)': \(name)=\(SecretRedaction.shown(text, of: name)) is invalid; \(name) must be one of \(choices.joined(separator: ", ")) (default \(value))")
        }
        return text
    }

    public func string(_ name: String) -> String? { values[name] }

    /// Every parameter given, for transforms that pass them on (module transforms).
    package var allValues: [String: String] { values }

    public func requiredString(_ name: String, hint: String) throws -> String {
        guard let text = values[name], !text.isEmpty else {
            throw TransformSpecError("transform '\(transformName)' needs \(name)=...: \(hint)")
        }
        return text
    }
}

/// A transform that `worker` can name: its documentation and its factory.
public struct RegisteredTransform<Frame>: Sendable {
    public typealias Factory = @Sendable (TransformParameters, TransformContext) throws -> any StreamTransformer<Frame>
    public let name: String
    public let summary: String
    public let parameters: [TransformParameterInfo]
    /// Where the transform comes from when it is not built in, e.g. "module /path/libhats.so".
    public let origin: String?
    public let factory: Factory

    public init(name: String, summary: String, parameters: [TransformParameterInfo] = [], origin: String? = nil,
                factory: @escaping Factory) {
        self.name = name
        self.summary = summary
        self.parameters = parameters
        self.origin = origin
        self.factory = factory
    }

    /// The name, followed by its origin when it is not built in: "hats (module /path/libhats.so)".
    public var listing: String { origin.map { "\(name) (\($0))" } ?? name }
}

/// Every catalog's table, keyed by frame type (generic types cannot have stored statics).
private let catalogTables = Mutex<[ObjectIdentifier: [String: any Sendable]]>([:])

/// Transform modules that could not be loaded, and why: every catalog's unknown-name error
/// lists them, since the transform asked for may be in one of them.
public enum TransformLoadProblems {
    private static let problems = Mutex<[String]>([])

    /// Records "what: why" once (the same text again is ignored).
    public static func record(_ problem: String) {
        problems.withLock { if !$0.contains(problem) { $0.append(problem) } }
    }

    public static var all: [String] { problems.withLock { $0 } }
}

/// The transforms known by name for one frame type, built in and registered by applications:
/// `TransformRegistry` (raw frames) and `EncodedTransformRegistry` (encoded frames).
public enum TransformCatalog<Frame: TransformableFrame> {
    private static var key: ObjectIdentifier { ObjectIdentifier(Frame.self) }

    /// Adds (or replaces) a transform.
    public static func register(_ transform: RegisteredTransform<Frame>) {
        catalogTables.withLock { $0[key, default: [:]][transform.name] = transform }
    }

    public static var names: [String] { catalogTables.withLock { ($0[key] ?? [:]).keys.sorted() } }

    /// Every name, with where it comes from when not built in, e.g. "blur, hats (module /m/libhats.so), mirror".
    public static var listing: String { descriptors.map(\.listing).joined(separator: ", ") }

    /// Every name with its parameters and origin, e.g. "negate (clear); trailer (magic; module /m/libt.so)".
    public static var parameterListing: String {
        descriptors.map { transform in
            var notes: [String] = []
            if !transform.parameters.isEmpty { notes.append(transform.parameters.map(\.name).joined(separator: ", ")) }
            if let origin = transform.origin { notes.append(origin) }
            return notes.isEmpty ? transform.name : "\(transform.name) (\(notes.joined(separator: "; ")))"
        }.joined(separator: "; ")
    }

    /// The transform modules that failed to load, as a sentence for descriptions ("" when none).
    public static var problemsSentence: String {
        let problems = TransformLoadProblems.all
        return problems.isEmpty ? "" : " Modules not loaded: " + problems.joined(separator: "; ") + "."
    }

    /// `listing`, then the modules that failed to load (for error messages).
    public static var listingWithProblems: String {
        let problems = TransformLoadProblems.all
        return problems.isEmpty ? listing : listing + "; not loaded: " + problems.joined(separator: "; ")
    }

    public static var descriptors: [RegisteredTransform<Frame>] {
        catalogTables.withLock { ($0[key] ?? [:]).values.compactMap { $0 as? RegisteredTransform<Frame> } }
            .sorted { $0.name < $1.name }
    }

    public static func descriptor(named name: String) -> RegisteredTransform<Frame>? {
        catalogTables.withLock { $0[key]?[name] as? RegisteredTransform<Frame> }
    }

    /// Checks every step of `description` against the catalog (known name, declared parameters).
    public static func resolve(_ description: WorkerDescription) throws -> [(RegisteredTransform<Frame>, TransformParameters)] {
        let noun = Frame.transformNoun
        return try description.steps.map { step in
            guard let transform = descriptor(named: step.name) else {
                throw TransformSpecError("unknown \(noun) '\(SecretRedaction.redactingWorker(step.name))' in worker \"\(SecretRedaction.redactingWorker(description.text))\"; known \(noun)s: \(listingWithProblems)")
            }
            let known = Set(transform.parameters.map(\.name))
            for key in step.values.keys.sorted() where !known.contains(key) {
                let list = transform.parameters.isEmpty ? "it takes no parameters"
                    : "its parameters are: \(transform.parameters.map(\.name).joined(separator: ", "))"
                throw TransformSpecError("transform '\(step.name)' has no parameter '\(key)'; \(list)")
            }
            return (transform, TransformParameters(transformName: step.name, values: step.values))
        }
    }

    /// Parses a description such as `sepia ! mirror` and builds its transformers, in order.
    public static func makeTransformers(_ description: String, context: TransformContext) throws -> [any StreamTransformer<Frame>] {
        try resolve(WorkerDescription(parsing: description)).map { transform, parameters in
            try transform.factory(parameters, context)
        }
    }
}
