import TransformCore
import XCTest

/// `SecretRedaction`: which names are secrets, and worker texts as errors and logs show them.
final class SecretRedactionTests: XCTestCase {
    func testSecretNamesAreKeysAndPassphrasesNotTheirIdentifiers() {
        for name in ["key", "KEY", "keys", "passphrase", "password", "secret", "psk", "base-key", "raw_key", "shared-secret", "my-passphrase"] {
            XCTAssertTrue(SecretRedaction.isSecretName(name), name)
        }
        for name in ["key-id", "key-index", "key-ring-size", "wait-for-key-frame", "keyframe", "suite", "sif-trailer", "ratchet-salt", "monkey"] {
            XCTAssertFalse(SecretRedaction.isSecretName(name), name)
        }
    }

    func testWorkerTextsKeepTheirShapeAndLoseTheirSecrets() {
        let hex = "00112233445566778899aabbccddeeff"
        let cases: [(String, String)] = [
            ("sepia ! mirror", "sepia ! mirror"),
            ("sframe suite=5 clear=web", "sframe suite=5 clear=web"),
            ("framecryptor key-ring-size=4 sif-trailer=f00d", "framecryptor key-ring-size=4 sif-trailer=f00d"),
            ("sframe key=\(hex)", "sframe key=<redacted>"),
            ("sframe key=short", "sframe key=<redacted>"),
            ("app passphrase=\"two words\" name=x", "app passphrase=<redacted> name=x"),
            ("sframe \"key=\(hex) ! mirror", "sframe \"key=<redacted>"),
            ("sframe suite=\(hex)", "sframe suite=<redacted>"),
            ("\(hex) ! sframe", "<redacted> ! sframe"),
            ("sframe \(hex.uppercased())", "sframe <redacted>"),
            ("a  !\tb key=1\n", "a  !\tb key=<redacted>\n"),
            ("sframe x=0123456789abcde", "sframe x=0123456789abcde"),   // 15 digits: not key material
        ]
        for (text, expected) in cases {
            XCTAssertEqual(SecretRedaction.redactingWorker(text), expected, text)
        }
    }

    func testParseErrorsOfWorkerTextsHideSecrets() {
        let hex = "00112233445566778899aabbccddeeff"
        for text in ["sframe \"key=\(hex)", "sframe \(hex)", "key=\(hex) ! sframe", "sframe ! ! key=\(hex)"] {
            XCTAssertThrowsError(try WorkerDescription(parsing: text)) { error in
                XCTAssertFalse("\(error)".contains(hex), "\(error)")
                XCTAssertTrue("\(error)".contains(SecretRedaction.placeholder), "\(error)")
            }
        }
        // Errors that name no secret stay as they were.
        XCTAssertThrowsError(try WorkerDescription(parsing: "a x")) { XCTAssertTrue("\($0)".contains("'x' is not a key=value parameter"), "\($0)") }
    }

    func testShownValues() {
        XCTAssertEqual(SecretRedaction.shown("7", of: "suite"), "7")
        XCTAssertEqual(SecretRedaction.shown("7", of: "key"), SecretRedaction.placeholder)
        XCTAssertEqual(SecretRedaction.shown("00112233445566778899aabbccddeeff", of: "radius"), SecretRedaction.placeholder)
    }
}
