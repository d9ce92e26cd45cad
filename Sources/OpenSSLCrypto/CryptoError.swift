/// Why a cryptographic operation was refused. The texts name sizes and operations, never
/// key bytes, IVs or data.
public enum CryptoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A key of a size the algorithm does not take.
    case keySize(algorithm: String, expected: String, got: Int)
    /// An IV / nonce of the wrong size.
    case ivSize(algorithm: String, expected: Int, got: Int)
    /// An output buffer of the wrong size (a programming error of the caller).
    case outputSize(expected: Int, got: Int)
    /// The tag did not verify: wrong key, or the data or its additional data changed.
    case authenticationFailed
    /// A bad argument (e.g. an iteration count of 0).
    case invalidArgument(String)
    /// libcrypto refused an operation (its reason, from the error queue: no data in it).
    case library(operation: String, reason: String)

    public var description: String {
        switch self {
        case .keySize(let algorithm, let expected, let got): "\(algorithm) takes a key of \(expected) bytes, not \(got)"
        case .ivSize(let algorithm, let expected, let got): "\(algorithm) takes a \(expected)-byte IV, not \(got) bytes"
        case .outputSize(let expected, let got): "the output needs \(expected) bytes, not \(got)"
        case .authenticationFailed: "authentication failed (wrong key, or the data changed)"
        case .invalidArgument(let text): text
        case .library(let operation, let reason): "libcrypto: \(operation) failed: \(reason)"
        }
    }
}
