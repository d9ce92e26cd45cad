// The fuzz harnesses: one function per parser of untrusted bytes. The libFuzzer executables of
// fuzz/Package.swift call them from LLVMFuzzerTestOneInput, and the main test suite compiles this
// same file (Tests/InsertableStreamsTests/FuzzHarnesses.swift is a symlink to it) to run every
// committed seed and crash reproducer through them without the fuzzer (FuzzRegressionTests).
//
// A harness throws FuzzPropertyViolation when a property that must hold does not (round trips,
// no forged frame decrypts, no key bytes in a posted message); a crash is a crash either way.
import BuiltinTransforms
import CGStreamer
import EncodedStreams
import FrameCryptor
import MediaStreams
import SFrame
import TransformCore

/// A property of a parser that did not hold for one input.
public struct FuzzPropertyViolation: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public enum FuzzHarness {
    /// The targets by name (the names of fuzz/corpus/<target>/ and scripts/fuzz.sh).
    public static let targets: [(name: String, run: @Sendable (UnsafeRawBufferPointer) throws -> Void)] = [
        ("sframe-header", { try sframeHeader($0) }),
        ("sframe-frame", { try sframeFrame($0) }),
        ("vp8-layout", { try vp8Layout($0) }),
        ("h26x-escaping", { try h26xEscaping($0) }),
        ("framecryptor-receive", { try frameCryptorReceive($0) }),
        ("worker", { try worker($0) }),
        ("options", { try options($0) }),
        ("post-message", { try postMessage($0) }),
    ]

    // MARK: (1) SFrame header

    /// SFrameHeader.decode on arbitrary bytes: never reads past them, and what it decodes
    /// encodes and decodes back to the same key id and counter.
    public static func sframeHeader(_ data: UnsafeRawBufferPointer) throws {
        guard let (header, consumed) = try? SFrameHeader.decode(data) else { return }
        guard consumed >= 1, consumed <= data.count else {
            throw FuzzPropertyViolation("header of \(data.count) bytes consumed \(consumed)")
        }
        let encoded = header.encoded
        guard encoded.count == header.count, encoded.count <= consumed else {
            throw FuzzPropertyViolation("re-encoded header is \(encoded.count) bytes (count \(header.count)), parsed from \(consumed)")
        }
        var written = [UInt8](repeating: 0, count: header.count)
        let size = written.withUnsafeMutableBytes { header.write(into: $0) }
        guard size == encoded.count, written == encoded else { throw FuzzPropertyViolation("write(into:) differs from encoded") }
        guard let (again, againConsumed) = try? SFrameHeader.decode(encoded), again == header, againConsumed == encoded.count else {
            throw FuzzPropertyViolation("header \(header) does not round-trip")
        }
    }

    // MARK: (2) SFrame frame

    /// The fixed test key (not a secret: it only exists in the fuzzer).
    static let sframeBaseKey: [UInt8] = Array(0..<16)

    /// Byte 0 picks the cipher suite and the mode:
    /// - even: the rest is a received frame (metadata empty). It must not authenticate: the
    ///   fuzzer does not know the key, so success would be a forgery (or a bug).
    /// - odd: the rest is a plaintext; it is protected with key id (byte 1) and then every
    ///   byte is flipped in turn at the position byte 2 names: the frame must round-trip, and
    ///   the flipped one must be refused.
    public static func sframeFrame(_ data: UnsafeRawBufferPointer) throws {
        guard data.count >= 3 else { return }
        let suites = CipherSuite.allCases
        let suite = suites[Int(data[0] >> 1) % suites.count]
        let keyID = UInt64(data[1])
        let receiver = SFrameReceiver(detectsReplays: data[0] & 0x80 == 0)
        for id: UInt64 in [0, 1, 7, 8, 255, keyID] {
            receiver.addKey(try SFrameKeyMaterial(suite: suite, keyID: id, baseKey: sframeBaseKey))
        }
        let rest = UnsafeRawBufferPointer(rebasing: data[3...])
        if data[0] & 1 == 0 {
            if let count = try? receiver.plaintextCount(of: rest), count < 0 || count > rest.count {
                throw FuzzPropertyViolation("plaintextCount \(count) for a \(rest.count)-byte frame")
            }
            if let (plaintext, header) = try? receiver.unprotect(rest, metadata: UnsafeRawBufferPointer(start: nil, count: 0)) {
                throw FuzzPropertyViolation("a frame the fuzzer made up authenticated (key id \(header.keyID), \(plaintext.count) bytes)")
            }
            return
        }
        let sender = SFrameSender()
        sender.setKey(try SFrameKeyMaterial(suite: suite, keyID: keyID, baseKey: sframeBaseKey))
        let metadata: [UInt8] = [0x90, 0x01]
        let frame = try sender.protect(Array(rest), metadata: metadata)
        guard frame.count == (try sender.protectedCount(plaintextCount: rest.count)) else {
            throw FuzzPropertyViolation("protectedCount differs from the protected frame's size")
        }
        let (plaintext, header) = try receiver.unprotect(frame, metadata: metadata)
        guard plaintext.elementsEqual(rest), header.keyID == keyID else { throw FuzzPropertyViolation("protect/unprotect does not round-trip") }
        var tampered = frame
        let position = Int(data[2]) % tampered.count
        tampered[position] ^= 0x01
        if (try? receiver.unprotect(tampered, metadata: metadata)) != nil {
            throw FuzzPropertyViolation("a frame with byte \(position) flipped authenticated")
        }
        if (try? receiver.unprotect(frame, metadata: [0x90, 0x02])) != nil {
            throw FuzzPropertyViolation("a frame authenticated with other metadata")
        }
    }

    // MARK: (3) VP8 frame header, bool decoder, clear-bytes layouts

    /// Every codec's layout under every clear-bytes policy (VP8's reads the first partition
    /// with the bool decoder): the clear prefix stays inside the frame; the VP8 partition
    /// count is 1, 2, 4 or 8; the same layout comes out of the clear bytes alone (both ends
    /// of a call must agree).
    public static func vp8Layout(_ data: UnsafeRawBufferPointer) throws {
        if let partitions = VP8FrameHeader.dctPartitionCount(data), ![1, 2, 4, 8].contains(partitions) {
            throw FuzzPropertyViolation("VP8 DCT partition count \(partitions)")
        }
        _ = VP8FrameHeader.firstPartitionSize(data)
        _ = VP9FrameHeader.isKeyFrame(data)
        for codec in EncodedCodec.allCases {
            for policy in ClearBytesPolicy.allCases {
                let layout = FrameLayout.of(data, codec: codec, policy: policy)
                guard layout.clearCount >= 0, layout.clearCount <= data.count else {
                    throw FuzzPropertyViolation("\(codec) \(policy): clear count \(layout.clearCount) of \(data.count)")
                }
                _ = FrameLayout.authenticatedClearBytes(UnsafeRawBufferPointer(rebasing: data[..<layout.clearCount]), codec: codec)
            }
        }
        for codec in FrameCryptorCodec.allCases {
            for profile in FrameCryptorProfile.allCases {
                for key in [false, true] {
                    let layout = FrameCryptorLayout.of(data, codec: codec, isKeyFrame: key, profile: profile)
                    guard layout.clearCount >= 0, layout.clearCount <= data.count else {
                        throw FuzzPropertyViolation("framecryptor \(codec) \(profile): clear count \(layout.clearCount) of \(data.count)")
                    }
                }
            }
        }
    }

    // MARK: (4) H.264/H.265 NAL units and escaping

    /// RBSP escaping and sframe's H.26x escaping: unescape(escape(x)) == x, the escaped bytes
    /// hold no start code, escapedCount is the size written; unescaping arbitrary bytes never
    /// crashes, and what it accepts escapes back to the same bytes; the H.26x layouts stay
    /// inside the frame.
    public static func h26xEscaping(_ data: UnsafeRawBufferPointer) throws {
        var escaped = [UInt8](repeating: 0xAA, count: RBSPEscaping.escapedCount(data))
        escaped.withUnsafeMutableBytes { RBSPEscaping.escape(data, into: $0) }
        try escaped.withUnsafeBytes { escaped in
            guard let back = RBSPEscaping.unescape(escaped), back.elementsEqual(data) else {
                throw FuzzPropertyViolation("RBSP unescape(escape(x)) != x")
            }
            if escaped.count >= 3 {
                for index in 0..<(escaped.count - 2) where escaped[index] == 0 && escaped[index + 1] == 0 && escaped[index + 2] < 3 {
                    throw FuzzPropertyViolation("escaped bytes hold 00 00 0\(escaped[index + 2]) at \(index)")
                }
            }
        }
        if let plain = RBSPEscaping.unescape(data) {
            // Escaping is not unique (a 00 00 03 04 may be written with or without the 03), so
            // only the decoded bytes must survive another round.
            var again = [UInt8](repeating: 0, count: plain.withUnsafeBytes { RBSPEscaping.escapedCount($0) })
            again.withUnsafeMutableBytes { out in plain.withUnsafeBytes { RBSPEscaping.escape($0, into: out) } }
            guard again.withUnsafeBytes({ RBSPEscaping.unescape($0) }) == plain else {
                throw FuzzPropertyViolation("RBSP escape(unescape(x)) does not unescape back")
            }
        }
        _ = RBSPEscaping.containsEscapes(data)
        var h26x = [UInt8](repeating: 0, count: H26xEscaping.escapedCount(data))
        h26x.withUnsafeMutableBytes { H26xEscaping.escape(data, into: $0) }
        guard h26x.last == H26xEscaping.trailer, h26x.withUnsafeBytes({ H26xEscaping.unescape($0) }).map({ $0.elementsEqual(data) }) == true else {
            throw FuzzPropertyViolation("H26xEscaping unescape(escape(x)) != x")
        }
        _ = H26xEscaping.unescape(data)
        for codec in [EncodedCodec.h264, .h265] {
            let layout = FrameLayout.of(data, codec: codec, policy: .gstreamer)
            guard layout.clearCount <= data.count, !layout.escapesBody || layout.clearCount < data.count else {
                throw FuzzPropertyViolation("\(codec) layout \(layout) of \(data.count) bytes")
            }
        }
        for codec in [FrameCryptorCodec.h264, .h265] {
            let layout = FrameCryptorLayout.of(data, codec: codec, isKeyFrame: true, profile: .livekit)
            guard layout.clearCount <= data.count else { throw FuzzPropertyViolation("framecryptor \(codec) layout \(layout)") }
        }
    }

    // MARK: (5) LiveKit / Jitsi trailer and receive path

    static let frameCryptorKey: [UInt8] = Array(100..<116)
    /// The server-injected-frame trailer the receiver knows (test value).
    static let sifTrailer: [UInt8] = Array("LKROOM-SIF".utf8)

    /// Byte 0: profile, codec, key frame flag, mode. Mode 0: the rest is a received frame for
    /// a receiver holding keys in slots 0, 1 and 12: it must be refused (the fuzzer does not
    /// know the key) unless it is one of the known server-injected blank frames with the
    /// trailer, which passes unchanged. Mode 1: the rest is a plaintext frame, encrypted then
    /// decrypted: the round trip must hold, and a copy with one byte flipped (byte 1 says
    /// where) must be refused.
    public static func frameCryptorReceive(_ data: UnsafeRawBufferPointer) throws {
        guard data.count >= 2 else { return }
        let control = data[0]
        var configuration = FrameCryptorConfiguration()
        configuration.profile = control & 0x01 == 0 ? .livekit : .jitsi
        configuration.sifTrailer = sifTrailer
        configuration.ratchetWindowSize = Int(control >> 6)  // 0-3 ratchet attempts
        let codecs = FrameCryptorCodec.allCases
        let codec = codecs[Int((control >> 1) & 0x07) % codecs.count]
        let isKeyFrame = control & 0x10 != 0
        let rest = UnsafeRawBufferPointer(rebasing: data[2...])
        let receiver = try FrameCryptor(configuration: configuration)
        for index in [0, 1, 12] {
            try receiver.setKey(try FrameKeyMaterial(kind: .raw, bytes: frameCryptorKey), index: index)
        }
        func decrypt(_ frame: UnsafeRawBufferPointer) throws -> [UInt8]? {
            guard let plan = try receiver.prepareDecryption(frame, codec: codec, isKeyFrame: isKeyFrame) else { return nil }
            guard plan.outputCount >= 0, plan.outputCount <= frame.count else {
                throw FuzzPropertyViolation("decryption plan of \(plan.outputCount) bytes for a \(frame.count)-byte frame")
            }
            var output = [UInt8](repeating: 0, count: plan.outputCount)
            try output.withUnsafeMutableBytes { _ = try receiver.write(plan, frame: frame, into: $0) }
            if plan.isServerInjected, !(frame.count >= sifTrailer.count && frame.suffix(sifTrailer.count).elementsEqual(sifTrailer)) {
                throw FuzzPropertyViolation("a frame without the trailer was taken as server-injected")
            }
            return output
        }
        if control & 0x20 == 0 {
            for _ in 0..<2 {  // twice: the failure count per key index moves on
                guard let opened = try? decrypt(rest) else { continue }
                let plan = try? receiver.prepareDecryption(rest, codec: codec, isKeyFrame: isKeyFrame)
                if plan?.isServerInjected != true {
                    throw FuzzPropertyViolation("a frame the fuzzer made up decrypted (\(opened.count) bytes)")
                }
            }
            return
        }
        guard rest.count > 0 else { return }
        let sender = try FrameCryptor(configuration: configuration)
        try sender.setKey(try FrameKeyMaterial(kind: .raw, bytes: frameCryptorKey), index: 0)
        let plan: FrameCryptor.Encryption?
        do {
            plan = try sender.prepareEncryption(rest, codec: codec, isKeyFrame: isKeyFrame, ssrc: 0x1234, rtpTimestamp: 90_000)
        } catch FrameCryptorError.syntax where codec == .h264 || codec == .h265 {
            return  // a frame ending inside its first slice's NAL header is refused, not sent
        }
        guard let plan else { return }
        var frame = [UInt8](repeating: 0, count: plan.outputCount)
        try frame.withUnsafeMutableBytes { try sender.write(plan, frame: rest, into: $0) }
        let opened = try frame.withUnsafeBytes { try decrypt($0) }
        guard let opened, opened.elementsEqual(rest) else {
            throw FuzzPropertyViolation("framecryptor \(codec) encrypt/decrypt does not round-trip (\(rest.count) bytes)")
        }
        let position = Int(data[1]) % frame.count
        frame[position] ^= 0x40
        if let forged = try? frame.withUnsafeBytes({ try decrypt($0) }), !forged.elementsEqual(rest) {
            // Flipping a byte that the payloaders' handling forgives (a trailing zero that is put
            // back) may still give the same plaintext; anything else must be refused.
            throw FuzzPropertyViolation("framecryptor \(codec): a frame with byte \(position) flipped decrypted to other bytes")
        }
    }

    // MARK: (6) worker grammar

    /// The `worker` grammar and the catalog lookups on arbitrary text: every step of a parsed
    /// description has a name without '=' and no parameter twice; resolving it against the
    /// encoded catalog (without the builtins registered: the grammar and lookups) gives an
    /// error or as many steps.
    public static func worker(_ data: UnsafeRawBufferPointer) throws {
        FuzzEnvironment.ready
        let text = String(decoding: data, as: UTF8.self)
        guard let description = try? WorkerDescription(parsing: text) else { return }
        guard !description.steps.isEmpty else { throw FuzzPropertyViolation("a parsed worker with no steps") }
        for step in description.steps {
            guard !step.name.isEmpty, !step.name.contains("=") else { throw FuzzPropertyViolation("step name \"\(step.name)\"") }
        }
        if let resolved = try? EncodedTransformRegistry.resolve(description), resolved.count != description.steps.count {
            throw FuzzPropertyViolation("resolved \(resolved.count) of \(description.steps.count) steps")
        }
        _ = try? EncodedTransformRegistry.makeTransformers(text, context: TransformContext(elementName: "fuzz"))
    }

    // MARK: (7) options, (8) post-message

    /// A GstStructure string (gst_structure_from_string, then our conversion) as the `options`
    /// of every keyed transform: constructing them either works or throws; the structure's
    /// text parses back to the same message.
    public static func options(_ data: UnsafeRawBufferPointer) throws {
        guard let message = try parseStructure(data) else { return }
        for worker in ["sframe", "sframe suite=AES_128_CTR_HMAC_SHA256_80", "framecryptor", "framecryptor profile=jitsi",
                       "negate ! sframe"] {
            _ = try? EncodedTransformRegistry.makeTransformers(worker, context: TransformContext(elementName: "fuzz", options: message))
        }
    }

    /// A GstStructure string delivered as `post-message` to an sframe and a framecryptor
    /// transform (keys set, as senders: the side is the element's, which needs one): accepted
    /// or refused with an error; no message they post holds the bytes of a key the structure
    /// carried (as hex or raw).
    public static func postMessage(_ data: UnsafeRawBufferPointer) throws {
        guard let message = try parseStructure(data) else { return }
        let keyOptions = TransformMessage("options", ["key": .bytes(sframeBaseKey), "key-id": .uint(1)])
        let host = RecordingHost()
        for worker in ["sframe", "framecryptor"] {
            guard let stages = try? EncodedTransformRegistry.makeTransformers(worker, context: TransformContext(elementName: "fuzz", options: keyOptions)) else {
                throw FuzzPropertyViolation("\(worker) with a valid key in options was refused")
            }
            let chain = TransformChain(stages: stages, host: host)
            do {
                try chain.deliver(message)
            } catch {
                try checkNoSecrets(in: "\(error)", of: message)
            }
        }
        for posted in host.posted { try checkNoSecrets(in: posted.description, of: message) }
    }

    /// The keys of `message` (byte fields of 8 bytes or more, and strings of 12 characters or
    /// more under a key-like name) must not appear in `text`.
    static func checkNoSecrets(in text: String, of message: TransformMessage) throws {
        // Error texts show an example key, 00 01 ... 0f: public, not the caller's (a key equal to
        // it, or to a part of it, is not found there).
        // Nor are the message's name and field names (a "passphrase" `tchet-key` is in the text
        // of a `ratchet-key` error without leaking).
        var text = text.lowercased().replacingAll("000102030405060708090a0b0c0d0e0f", with: "<example>")
        for word in [message.name] + message.fields.map(\.key) where !word.isEmpty {
            text = text.replacingAll(word.lowercased(), with: "<name>")
        }
        for field in message.fields {
            switch field.value {
            case .bytes(let bytes) where bytes.count >= 8:
                let hex = bytes.map { byte in String(byte, radix: 16).count == 1 ? "0" + String(byte, radix: 16) : String(byte, radix: 16) }.joined()
                if text.contains(hex) {
                    throw FuzzPropertyViolation("the bytes of field \(field.key) appear (hex) in: \(text)")
                }
            case .string(let secret) where secret.count >= 12 && (field.key.contains("key") || field.key.contains("pass")):
                if text.contains(secret.lowercased()) { throw FuzzPropertyViolation("the value of field \(field.key) appears in a posted text") }
            default: break
            }
        }
    }

    static func parseStructure(_ data: UnsafeRawBufferPointer) throws -> TransformMessage? {
        FuzzEnvironment.ready
        let text = String(decoding: data, as: UTF8.self)
        // GStreamer's parser stops at a NUL; ours hands it a C string.
        guard !text.utf8.contains(0), let message = try? TransformMessage(parsing: text) else { return nil }
        // The text our side writes must parse back to the same message (the elements hand it
        // to applications as the `message` signal's structure).
        if let again = try? TransformMessage(parsing: message.description) {
            if again.name != message.name || again.fields.map(\.key) != message.fields.map(\.key) {
                throw FuzzPropertyViolation("message text \"\(message.description)\" parses back with other fields")
            }
        } else {
            throw FuzzPropertyViolation("message text \"\(message.description)\" does not parse back")
        }
        return message
    }
}

extension String {
    /// `self` with every occurrence of `target` replaced (no Foundation in the plugin's modules).
    func replacingAll(_ target: String, with replacement: String) -> String {
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}

/// gst_init once, and the encoded builtins registered (sframe, framecryptor, negate).
enum FuzzEnvironment {
    static let ready: Void = {
        gst_init(nil, nil)
        for descriptor in EncodedBuiltins.descriptors where !EncodedTransformRegistry.names.contains(descriptor.name) {
            EncodedTransformRegistry.register(descriptor)
        }
    }()
}

/// A transform host for messages only: no frames flow, what transforms post is kept.
final class RecordingHost: TransformHost, @unchecked Sendable {
    typealias Frame = EncodedFrame
    var posted: [TransformMessage] = []
    func write(_ frame: EncodedFrame) throws {}
    var isOnWorkerThread: Bool { true }
    func schedule(_ work: @escaping @Sendable () throws -> Void) { try? work() }
    func post(_ message: TransformMessage) { posted.append(message) }
}
