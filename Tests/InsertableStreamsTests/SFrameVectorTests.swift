import Foundation
import SFrame
import XCTest

/// RFC 9605 known-answer vectors, read from ../shared/testdata (next to the repository): header
/// encodings, the AES-CTR+HMAC AEAD, and whole SFrame encryptions for every cipher suite.
final class SFrameVectorTests: XCTestCase {
    static let testdata = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/testdata")

    private func load(_ name: String) throws -> [String: Any] {
        let url = Self.testdata.appendingPathComponent(name)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw XCTSkip("\(url.path) is missing: the known-answer vectors live in ../shared/testdata beside the repository")
        }
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    private func cases(_ file: String, _ key: String) throws -> [[String: Any]] {
        try XCTUnwrap(try load(file)[key] as? [[String: Any]], "\(file) has no \(key)")
    }

    func testHeaderEncodings() throws {
        let vectors = try cases("sframe-test-vectors.json", "header")
        XCTAssertEqual(vectors.count, 289)
        for vector in vectors {
            let keyID = try number(vector["kid"]), counter = try number(vector["ctr"])
            let expected = try hex(vector["encoded"])
            let header = SFrameHeader(keyID: keyID, counter: counter)
            XCTAssertEqual(header.encoded, expected, "kid \(keyID) ctr \(counter)")
            XCTAssertEqual(header.count, expected.count)
            let (decoded, consumed) = try SFrameHeader.decode(expected + [0xaa, 0xbb])
            XCTAssertEqual(decoded, header)
            XCTAssertEqual(consumed, expected.count)
            if expected.count > 1 {
                XCTAssertThrowsError(try SFrameHeader.decode(expected.dropLast())) { error in
                    XCTAssertEqual((error as? SFrameError)?.kind, "syntax")
                }
            }
        }
    }

    func testCtrHmacAEAD() throws {
        let vectors = try cases("sframe-test-vectors.json", "aes_ctr_hmac") + cases("sframe-test-vectors.json", "aes_256_ctr_hmac")
        XCTAssertEqual(vectors.count, 6)
        for vector in vectors {
            let suite = try XCTUnwrap(CipherSuite(rawValue: UInt16(try number(vector["cipher_suite"]))))
            let material = try SFrameKeyMaterial(suite: suite, keyID: 0, key: try hex(vector["key"]), salt: try hex(vector["nonce"]))
            let (nonce, aad, plaintext, sealed) = (try hex(vector["nonce"]), try hex(vector["aad"]), try hex(vector["pt"]), try hex(vector["ct"]))
            XCTAssertEqual(Array(try SFrameAEAD.seal(plaintext, material: material, nonce: nonce, aad: aad)), sealed, "\(suite)")
            XCTAssertEqual(Array(try SFrameAEAD.open(sealed, material: material, nonce: nonce, aad: aad)), plaintext, "\(suite)")
            var tampered = sealed
            tampered[0] ^= 0x80
            XCTAssertThrowsError(try SFrameAEAD.open(tampered, material: material, nonce: nonce, aad: aad)) {
                XCTAssertEqual($0 as? SFrameError, .authentication)
            }
        }
    }

    func testWholeFrameEncryptionForEverySuite() throws {
        let vectors = try cases("sframe-test-vectors.json", "sframe") + cases("sframe-test-vectors-aes256.json", "sframe_aes_256_ctr_hmac")
        XCTAssertEqual(Set(vectors.compactMap { ($0["cipher_suite"] as? NSNumber)?.uint16Value }), Set(CipherSuite.allCases.map(\.rawValue)))
        for vector in vectors {
            let suite = try XCTUnwrap(CipherSuite(rawValue: UInt16(try number(vector["cipher_suite"]))))
            let keyID = try number(vector["kid"]), counter = try number(vector["ctr"])
            let material = try SFrameKeyMaterial(suite: suite, keyID: keyID, baseKey: try hex(vector["base_key"]))
            XCTAssertEqual(material.keyBytes, try hex(vector["sframe_key"]), "\(suite) key")
            XCTAssertEqual(material.salt, try hex(vector["sframe_salt"]), "\(suite) salt")
            let sender = SFrameSender()
            sender.setKey(material)
            sender.setCounter(counter)
            let metadata = try hex(vector["metadata"])
            let protected = try sender.protect(try hex(vector["pt"]), metadata: metadata)
            XCTAssertEqual(Array(protected), try hex(vector["ct"]), "\(suite) ciphertext")

            let receiver = SFrameReceiver()
            receiver.addKey(material)
            let (plaintext, header) = try receiver.unprotect(protected, metadata: metadata)
            XCTAssertEqual(Array(plaintext), try hex(vector["pt"]))
            XCTAssertEqual(header, SFrameHeader(keyID: keyID, counter: counter))
            var tampered = Array(protected)
            tampered[tampered.count - 1] ^= 1
            XCTAssertThrowsError(try receiver.unprotect(tampered, metadata: metadata)) { XCTAssertEqual($0 as? SFrameError, .authentication) }
            XCTAssertThrowsError(try receiver.unprotect(protected, metadata: metadata + [0])) { XCTAssertEqual($0 as? SFrameError, .authentication) }
            receiver.removeKey(keyID)
            XCTAssertThrowsError(try receiver.unprotect(protected, metadata: metadata)) { XCTAssertEqual($0 as? SFrameError, .unknownKeyID(keyID)) }
        }
    }

    func testCounterIsNeverReused() throws {
        let sender = SFrameSender()
        XCTAssertThrowsError(try sender.protect([1, 2, 3]))
        sender.setKey(try SFrameKeyMaterial(suite: .aes128GcmSha256_128, keyID: 7, baseKey: Array(0..<16)))
        sender.setCounter(.max)
        XCTAssertNoThrow(try sender.protect([1, 2, 3]))
        XCTAssertThrowsError(try sender.protect([1, 2, 3])) { XCTAssertEqual($0 as? SFrameError, .counterExhausted(7)) }
    }

    /// The receiver's keys: each key id has its own replay window; adding the same key again
    /// keeps its window, another key under the same id starts a new one; removing one leaves
    /// the others.
    func testReceiverKeysAndTheirReplayWindows() throws {
        let first = try SFrameKeyMaterial(suite: .aes128GcmSha256_128, keyID: 1, baseKey: Array(0..<16))
        let second = try SFrameKeyMaterial(suite: .aes128GcmSha256_128, keyID: 2, baseKey: Array(16..<32))
        let sender1 = SFrameSender(), sender2 = SFrameSender()
        sender1.setKey(first)
        sender2.setKey(second)
        let frames1 = try (0..<3).map { try sender1.protect([UInt8($0), 1, 2]) }
        let frames2 = try (0..<3).map { try sender2.protect([UInt8($0), 3, 4]) }
        let receiver = SFrameReceiver()
        receiver.addKey(second)
        receiver.addKey(first)
        XCTAssertEqual(receiver.keyIDs, [1, 2])
        for (a, b) in zip(frames1, frames2) {
            XCTAssertEqual(try receiver.unprotect(a).header.keyID, 1)
            XCTAssertEqual(try receiver.unprotect(b).header.keyID, 2)
        }
        XCTAssertThrowsError(try receiver.unprotect(frames1[1])) { XCTAssertEqual($0 as? SFrameError, .replay(keyID: 1, counter: 1)) }
        receiver.addKey(first)  // the same key: its window stays
        XCTAssertThrowsError(try receiver.unprotect(frames1[2])) { XCTAssertEqual($0 as? SFrameError, .replay(keyID: 1, counter: 2)) }
        let replaced = try SFrameKeyMaterial(suite: .aes128GcmSha256_128, keyID: 1, baseKey: Array(32..<48))
        receiver.addKey(replaced)  // another key under id 1: a new window, and the old frames no longer open
        XCTAssertThrowsError(try receiver.unprotect(frames1[0])) { XCTAssertEqual($0 as? SFrameError, .authentication) }
        receiver.addKey(first)
        XCTAssertEqual(try receiver.unprotect(frames1[0]).plaintext, [0, 1, 2], "a new window admits counter 0 again")
        XCTAssertTrue(receiver.removeKey(2))
        XCTAssertFalse(receiver.removeKey(2))
        XCTAssertEqual(receiver.keyIDs, [1])
        XCTAssertThrowsError(try receiver.unprotect(frames2[0])) { XCTAssertEqual($0 as? SFrameError, .unknownKeyID(2)) }
        XCTAssertEqual(try receiver.unprotect(frames1[1]).plaintext, [1, 1, 2], "key 1 still opens")
    }

    private func number(_ value: Any?) throws -> UInt64 {
        try XCTUnwrap((value as? NSNumber)?.uint64Value, "not a number: \(String(describing: value))")
    }

    private func hex(_ value: Any?) throws -> [UInt8] {
        let text = try XCTUnwrap(value as? String, "not a string: \(String(describing: value))")
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(try XCTUnwrap(UInt8(text[index..<next], radix: 16)))
            index = next
        }
        return bytes
    }
}
