/// Why a `worker` description could not be turned into transformers. The text says what was
/// wrong and what would be right; elements post it as their error message.
public struct TransformSpecError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The `worker` grammar, parsed once for every element: steps separated by `!`, each a
/// transform name followed by `key=value` parameters (values may be double-quoted to hold
/// spaces), e.g. `sepia ! mirror`, `blur radius=8 ! delay ms=40`, `sframe suite=5`.
public struct WorkerDescription: Equatable, Sendable {
    public struct Step: Equatable, Sendable {
        public var name: String
        public var values: [String: String]
        public init(name: String, values: [String: String]) {
            self.name = name
            self.values = values
        }
    }

    /// The text as written (for messages).
    public let text: String
    public let steps: [Step]

    public init(parsing description: String) throws {
        text = description
        let trimmed = description.trimmingCharacters(in: " \t\n")
        guard !trimmed.isEmpty else { throw TransformSpecError("worker is empty; name a transform such as \"sepia ! mirror\"") }
        steps = try trimmed.split(separator: "!", omittingEmptySubsequences: false).enumerated().map { index, part in
            let tokens = try Self.tokenize(String(part))
            guard let name = tokens.first else {
                throw TransformSpecError("worker \"\(SecretRedaction.redactingWorker(description))\": step \(index + 1) is empty; write transforms separated by '!', e.g. \"sepia ! mirror\"")
            }
            guard !name.contains("=") else {
                throw TransformSpecError("worker \"\(SecretRedaction.redactingWorker(description))\": step \(index + 1) starts with '\(SecretRedaction.redactingWorker(name))'; a step is a transform name followed by key=value parameters")
            }
            var values: [String: String] = [:]
            for token in tokens.dropFirst() {
                guard let equals = token.firstIndex(of: "="), equals != token.startIndex else {
                    throw TransformSpecError("transform '\(name)': '\(SecretRedaction.redactingWorker(token))' is not a key=value parameter")
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
        guard !quoted else { throw TransformSpecError("unbalanced double quote in \"\(SecretRedaction.redactingWorker(text))\"") }
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
