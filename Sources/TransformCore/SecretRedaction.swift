/// What never appears in a message, error text or log line: the values of fields and
/// parameters that carry keys, passphrases or key material. Texts that echo what a user wrote
/// (a `worker` description, a parameter) name such a field and put `placeholder` for its value.
public enum SecretRedaction {
    /// Stands for a secret value in a text.
    public static let placeholder = "<redacted>"

    /// Whether a field or parameter named `name` carries a secret: `key`, `keys`, `passphrase`,
    /// `password`, `secret`, `psk`, and names ending in `-key`, `_key`, `passphrase`,
    /// `password` or `secret` (`base-key`, `raw-key`). Not `key-id`, `key-index`,
    /// `key-ring-size` or `wait-for-key-frame`: they name a key, they are not one.
    public static func isSecretName(_ name: String) -> Bool {
        let lowered = name.lowercased()
        if ["key", "keys", "passphrase", "password", "secret", "psk"].contains(lowered) { return true }
        return ["-key", "_key", "passphrase", "password", "secret"].contains { lowered.hasSuffix($0) }
    }

    /// A bare token that looks like key material: 16 or more hexadecimal digits (a key typed
    /// where a parameter was expected).
    public static func looksLikeKeyMaterial<S: StringProtocol>(_ token: S) -> Bool {
        token.utf8.count >= 16 && token.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
        }
    }

    /// `text` in the `worker` grammar (steps separated by `!`, `name=value` parameters, values
    /// possibly double-quoted), with `placeholder` for the value of every secret parameter and
    /// every value or bare token that looks like key material. Works on malformed text
    /// (an unbalanced quote runs to the end, and is redacted with its parameter).
    public static func redactingWorker(_ text: String) -> String {
        func separates(_ character: Character) -> Bool { character == " " || character == "\t" || character == "\n" || character == "!" }
        var result = ""
        var index = text.startIndex
        while index < text.endIndex {
            if separates(text[index]) {
                result.append(text[index])
                index = text.index(after: index)
                continue
            }
            var end = index
            var quoted = false
            while end < text.endIndex {
                let character = text[end]
                if character == "\"" {
                    quoted.toggle()
                } else if !quoted && separates(character) {
                    break
                }
                end = text.index(after: end)
            }
            let token = text[index..<end]
            if let equals = token.firstIndex(of: "="),
               isSecretName(token[..<equals].filter { $0 != "\"" }) || looksLikeKeyMaterial(token[token.index(after: equals)...].filter { $0 != "\"" }) {
                result += token[..<equals] + "=" + placeholder
            } else if looksLikeKeyMaterial(token.filter { $0 != "\"" }) {
                result += placeholder
            } else {
                result += token
            }
            index = end
        }
        return result
    }

    /// The value of parameter `name` as a text may show it: itself, or `placeholder`.
    public static func shown(_ value: String, of name: String) -> String {
        isSecretName(name) || looksLikeKeyMaterial(value) ? placeholder : value
    }
}
