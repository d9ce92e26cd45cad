import Foundation
import FrameCryptor
import SFrame
import TransformCore
import XCTest

/// Replays the committed fuzz corpus (fuzz/corpus/TARGET/) and every crash reproducer
/// (fuzz/crashes/TARGET/) through the fuzz harnesses without the fuzzer: the same functions the
/// libFuzzer targets call (FuzzHarnesses.swift is fuzz/Sources/FuzzHarnesses/FuzzHarnesses.swift),
/// so an input that once crashed or broke a property keeps being checked by scripts/test.sh.
final class FuzzRegressionTests: XCTestCase {
    static let fuzzFolder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fuzz")

    override class func setUp() {
        super.setUp()
        TestEnvironment.ready
    }

    func testEveryTargetHasSeeds() throws {
        for (name, _) in FuzzHarness.targets {
            XCTAssertFalse(inputs(of: name, in: "corpus").isEmpty, "fuzz/corpus/\(name) holds no seed")
        }
    }

    func testCorpusAndCrashReproducersPassTheHarnesses() throws {
        var replayed = 0
        for (name, run) in FuzzHarness.targets {
            for file in inputs(of: name, in: "corpus") + inputs(of: name, in: "crashes") {
                let data = try Data(contentsOf: file)
                XCTAssertNoThrow(try data.withUnsafeBytes { try run($0) }, "\(name): \(file.lastPathComponent)")
                replayed += 1
            }
        }
        XCTAssertGreaterThan(replayed, 40)
    }

    /// A harness that checks nothing would pass every input: each must refuse an input that
    /// breaks its property (a forged frame decrypting would, a key in a posted message would).
    func testHarnessesCatchViolations() throws {
        // The key a post-message carries must not come back in what the transform posts:
        // checkNoSecrets finds it as hex.
        let key: [UInt8] = Array(0x20..<0x30)
        let message = TransformMessage("set-key", ["key": .bytes(key), "passphrase": .string("correct horse battery")])
        XCTAssertThrowsError(try FuzzHarness.checkNoSecrets(in: "keys: 202122232425262728292A2B2C2D2E2F", of: message))
        XCTAssertThrowsError(try FuzzHarness.checkNoSecrets(in: "set-key: correct horse battery is wrong", of: message))
        // The example key of error texts is public.
        XCTAssertNoThrow(try FuzzHarness.checkNoSecrets(in: "e.g. key=(string)000102030405060708090a0b0c0d0e0f", of: message))
        XCTAssertNoThrow(try FuzzHarness.checkNoSecrets(in: "sframe-keys, side=send, key-ids=1", of: message))

        // A genuine SFrame frame under the harness's key, handed in as a received frame (mode 0):
        // the harness must call its authentication a violation (the fuzzer cannot know the key).
        let sender = SFrameSender()
        sender.setKey(try SFrameKeyMaterial(suite: CipherSuite.allCases[0], keyID: 0, baseKey: FuzzHarness.sframeBaseKey))
        let sframe = try sender.protect(Array("a real frame".utf8))
        XCTAssertThrowsError(try ([0, 0, 0] + sframe).withUnsafeBytes { try FuzzHarness.sframeFrame($0) })

        // The same for a LiveKit frame (audio, key index 0) in the framecryptor target's mode 0.
        let cryptor = try FrameCryptor(configuration: FrameCryptorConfiguration())
        try cryptor.setKey(try FrameKeyMaterial(kind: .raw, bytes: FuzzHarness.frameCryptorKey), index: 0)
        let audio: [UInt8] = [0xf8] + Array("opus".utf8)
        let plan = try XCTUnwrap(try audio.withUnsafeBytes {
            try cryptor.prepareEncryption($0, codec: .audio, isKeyFrame: false, ssrc: 1, rtpTimestamp: 2)
        })
        var encrypted = [UInt8](repeating: 0, count: plan.outputCount)
        try audio.withUnsafeBytes { frame in try encrypted.withUnsafeMutableBytes { try cryptor.write(plan, frame: frame, into: $0) } }
        XCTAssertThrowsError(try ([0x00, 0x00] + encrypted).withUnsafeBytes { try FuzzHarness.frameCryptorReceive($0) })
    }

    private func inputs(of target: String, in folder: String) -> [URL] {
        let directory = Self.fuzzFolder.appendingPathComponent(folder).appendingPathComponent(target)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { directory.appendingPathComponent($0) }
    }
}
