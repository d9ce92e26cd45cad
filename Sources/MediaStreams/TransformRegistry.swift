import Synchronization

/// Why a `worker` description could not be turned into transformers. The text says what was
/// wrong and what would be right; elements post it as their error message.
public struct TransformSpecError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
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
    /// Finds the frame ring of another `trackprocessor` by element name (secondary inputs).
    public let processorRing: @Sendable (String) -> FrameRing?

    public init(elementName: String, processorRing: @escaping @Sendable (String) -> FrameRing? = { _ in nil }) {
        self.elementName = elementName
        self.processorRing = processorRing
    }
}

/// The `key=value` parameters of one step of a `worker` description, read with range checks.
public struct TransformParameters {
    public let transformName: String
    private let values: [String: String]

    package init(transformName: String, values: [String: String]) {
        self.transformName = transformName
        self.values = values
    }

    public func integer(_ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = values[name] else { return value }
        guard let parsed = Int(text), range.contains(parsed) else {
            throw TransformSpecError("transform '\(transformName)': \(name)=\(text) is invalid; \(name) must be an integer from \(range.lowerBound) to \(range.upperBound) (default \(value))")
        }
        return parsed
    }

    public func number(_ name: String, default value: Double, range: ClosedRange<Double>) throws -> Double {
        guard let text = values[name] else { return value }
        guard let parsed = Double(text), parsed.isFinite, range.contains(parsed) else {
            throw TransformSpecError("transform '\(transformName)': \(name)=\(text) is invalid; \(name) must be a number from \(range.lowerBound) to \(range.upperBound) (default \(value))")
        }
        return parsed
    }

    public func choice(_ name: String, default value: String, among choices: [String]) throws -> String {
        guard let text = values[name] else { return value }
        guard choices.contains(text) else {
            throw TransformSpecError("transform '\(transformName)': \(name)=\(text) is invalid; \(name) must be one of \(choices.joined(separator: ", ")) (default \(value))")
        }
        return text
    }

    public func string(_ name: String) -> String? { values[name] }

    public func requiredString(_ name: String, hint: String) throws -> String {
        guard let text = values[name], !text.isEmpty else {
            throw TransformSpecError("transform '\(transformName)' needs \(name)=...: \(hint)")
        }
        return text
    }
}

public typealias TransformFactory = @Sendable (TransformParameters, TransformContext) throws -> FrameTransformer

/// A transform that `worker` can name.
public struct TransformDescriptor: Sendable {
    public let name: String
    public let summary: String
    public let parameters: [TransformParameterInfo]
    public let factory: TransformFactory

    public init(name: String, summary: String, parameters: [TransformParameterInfo] = [],
                factory: @escaping TransformFactory) {
        self.name = name
        self.summary = summary
        self.parameters = parameters
        self.factory = factory
    }
}

/// The transforms known by name, built-in and registered by applications.
public enum TransformRegistry {
    private static let table = Mutex<[String: TransformDescriptor]>([:])

    /// Adds (or replaces) a transform.
    public static func register(_ descriptor: TransformDescriptor) {
        table.withLock { $0[descriptor.name] = descriptor }
    }

    public static var names: [String] { table.withLock { $0.keys.sorted() } }
    public static var descriptors: [TransformDescriptor] { table.withLock { $0.values.sorted { $0.name < $1.name } } }
    public static func descriptor(named name: String) -> TransformDescriptor? { table.withLock { $0[name] } }

    /// Parses a description such as `sepia ! mirror` or `blur radius=8 ! delay ms=40` and
    /// builds its transformers, in order.
    public static func makeTransformers(_ description: String, context: TransformContext) throws -> [FrameTransformer] {
        try resolve(description, noun: "transform", known: names, lookup: descriptor(named:), parameters: \.parameters)
            .map { descriptor, parameters in try descriptor.factory(parameters, context) }
    }

    /// Parses `description` and checks every step against its descriptor: the name must be
    /// known and every parameter declared. Shared by the raw and encoded registries.
    package static func resolve<Descriptor>(_ description: String, noun: String, known names: @autoclosure () -> [String],
                                            lookup: (String) -> Descriptor?,
                                            parameters: (Descriptor) -> [TransformParameterInfo]) throws -> [(Descriptor, TransformParameters)] {
        try parse(description).map { step in
            guard let descriptor = lookup(step.name) else {
                throw TransformSpecError("unknown \(noun) '\(step.name)' in worker \"\(description)\"; known \(noun)s: \(names().joined(separator: ", "))")
            }
            let declared = parameters(descriptor)
            let known = Set(declared.map(\.name))
            for key in step.values.keys.sorted() where !known.contains(key) {
                let list = declared.isEmpty ? "it takes no parameters"
                    : "its parameters are: \(declared.map(\.name).joined(separator: ", "))"
                throw TransformSpecError("transform '\(step.name)' has no parameter '\(key)'; \(list)")
            }
            return (descriptor, TransformParameters(transformName: step.name, values: step.values))
        }
    }

    package struct Step: Equatable {
        package var name: String
        package var values: [String: String]
    }

    /// `name key=value ... ! name ...`. Values may be double-quoted to contain spaces.
    package static func parse(_ description: String) throws -> [Step] {
        let trimmed = description.trimmingCharacters(in: " \t\n")
        guard !trimmed.isEmpty else { throw TransformSpecError("worker is empty; name a transform such as \"sepia ! mirror\"") }
        return try trimmed.split(separator: "!", omittingEmptySubsequences: false).enumerated().map { index, part in
            let tokens = try tokenize(String(part))
            guard let name = tokens.first else {
                throw TransformSpecError("worker \"\(description)\": step \(index + 1) is empty; write transforms separated by '!', e.g. \"sepia ! mirror\"")
            }
            guard !name.contains("=") else {
                throw TransformSpecError("worker \"\(description)\": step \(index + 1) starts with '\(name)'; a step is a transform name followed by key=value parameters")
            }
            var values: [String: String] = [:]
            for token in tokens.dropFirst() {
                guard let equals = token.firstIndex(of: "="), equals != token.startIndex else {
                    throw TransformSpecError("transform '\(name)': '\(token)' is not a key=value parameter")
                }
                let key = String(token[..<equals])
                guard values[key] == nil else { throw TransformSpecError("transform '\(name)': parameter '\(key)' is given twice") }
                values[key] = String(token[token.index(after: equals)...])
            }
            return Step(name: name, values: values)
        }
    }

    private static func tokenize(_ text: String) throws -> [String] {
        var tokens: [String] = []
        var current = ""
        var quoted = false
        for character in text {
            if character == "\"" {
                quoted.toggle()
            } else if !quoted && (character == " " || character == "\t" || character == "\n") {
                if !current.isEmpty { tokens.append(current); current = "" }
            } else {
                current.append(character)
            }
        }
        guard !quoted else { throw TransformSpecError("unbalanced double quote in \"\(text)\"") }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }
}

extension String {
    package func trimmingCharacters(in set: String) -> String {
        var view = Substring(self)
        while let first = view.first, set.contains(first) { view.removeFirst() }
        while let last = view.last, set.contains(last) { view.removeLast() }
        return String(view)
    }
}
