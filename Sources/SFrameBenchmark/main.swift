// sframe-benchmark: throughput of SFrameSender.protect / SFrameReceiver.unprotect per cipher suite
// and frame size, one JSON object per line on stdout (benchmarks/sframe.py parses them).
//
//   swift build -c release --product sframe-benchmark --scratch-path .build-bench
//   .build-bench/release/sframe-benchmark --seconds 1 --sizes 1024,10240,102400 --suites 0x0004,0x0001
//
// Single-threaded on purpose: the figures are compared with `openssl speed` (one thread) in
// the same run. MB = 10^6 bytes of plaintext, as `openssl speed` counts.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FrameCryptor
import SFrame

struct Options {
    var seconds = 1.0
    var warmup = 0.2
    var sizes = [1024, 10240, 102400]
    var suites: [CipherSuite] = [.aes128GcmSha256_128, .aes128CtrHmacSha256_80]
    var ops = ["encrypt", "decrypt"]
    static let allOps = ["encrypt", "decrypt", "seal", "open", "protect-into", "fc-encrypt", "fc-decrypt"]
    var metadataBytes = 10
}

/// Writes straight to the file descriptor: lines reach a reading pipe at once, and no C stdio
/// globals (not concurrency-safe in Swift 6) are touched.
func emit(_ text: String, to descriptor: Int32 = 1) {
    var text = text
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written <= 0 { return }
            offset += written
        }
    }
}

func usage() -> Never {
    let text = """
    usage: sframe-benchmark [--seconds S] [--warmup S] [--sizes N,N,...] [--suites ID,ID,...]
                            [--ops encrypt,decrypt,seal,open,protect-into] [--metadata-bytes N]
      --suites takes ids (0x0004, 4) or registry names (AES_128_GCM_SHA256_128), or "all".
      encrypt, decrypt: SFrameSender.protect, SFrameReceiver.unprotect (the default).
      seal, open: SFrameAEAD alone (fixed nonce, AAD = the metadata): what the AEAD costs
        without the SFrame layer around it.
      protect-into: the same frames as protect, written into a caller's buffer
        (SFrameSender.protect(into:)): what the sframe transform does, into the frame's new memory.
      fc-encrypt, fc-decrypt: framecryptor (LiveKit format, Opus layout: 1 clear byte) into a
        caller's buffer, as the transform writes into the frame's new memory; the suite is ignored.
      Prints one JSON object per (suite, op, size) on stdout.

    """
    emit(text, to: 2)
    exit(2)
}

func suite(named text: String) -> CipherSuite? {
    let lowered = text.lowercased()
    if let match = CipherSuite.allCases.first(where: { $0.description.lowercased() == lowered }) { return match }
    let digits = lowered.hasPrefix("0x") ? String(lowered.dropFirst(2)) : lowered
    return UInt16(digits, radix: lowered.hasPrefix("0x") ? 16 : 10).flatMap(CipherSuite.init(rawValue:))
}

func parse(_ arguments: [String]) -> Options {
    var options = Options()
    var index = 0
    func value() -> String {
        index += 1
        guard index < arguments.count else { usage() }
        return arguments[index]
    }
    func number<T: LosslessStringConvertible>(_ text: some StringProtocol) -> T {
        guard let parsed = T(String(text)) else { usage() }
        return parsed
    }
    while index < arguments.count {
        switch arguments[index] {
        case "--seconds": options.seconds = number(value())
        case "--warmup": options.warmup = number(value())
        case "--sizes":
            options.sizes = value().split(separator: ",").map { number($0) }
            if options.sizes.contains(where: { $0 < 0 }) { usage() }
        case "--suites":
            let text = value()
            options.suites = text == "all" ? CipherSuite.allCases
                : text.split(separator: ",").map { name in
                    guard let match = suite(named: String(name)) else { usage() }
                    return match
                }
        case "--ops":
            options.ops = value().split(separator: ",").map(String.init)
            if options.ops.contains(where: { !Options.allOps.contains($0) }) { usage() }
        case "--metadata-bytes": options.metadataBytes = number(value())
        case "-h", "--help": usage()
        default: usage()
        }
        index += 1
    }
    return options
}

func now(_ clock: clockid_t) -> Double {
    var spec = timespec()
    clock_gettime(clock, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// Runs `body` in batches until `seconds` have passed; returns (frames, wall s, thread CPU s,
/// checksum). Batches of ~1 ms keep the clock reads out of the measurement; the checksum (sum of
/// what `body` returns) is printed so the optimiser cannot drop the work. A local, not a global:
/// a global would add an exclusivity check per frame to what is measured.
func measure(seconds: Double, _ body: () throws -> Int) rethrows -> (Int, Double, Double, Int) {
    var batch = 1
    var frames = 0
    var checksum = 0
    let wallStart = now(CLOCK_MONOTONIC), cpuStart = now(CLOCK_THREAD_CPUTIME_ID)
    var elapsed = 0.0
    repeat {
        let batchStart = now(CLOCK_MONOTONIC)
        for _ in 0..<batch { checksum &+= try body() }
        frames += batch
        if now(CLOCK_MONOTONIC) - batchStart < 0.001 { batch *= 2 }
        elapsed = now(CLOCK_MONOTONIC) - wallStart
    } while elapsed < seconds
    return (frames, elapsed, now(CLOCK_THREAD_CPUTIME_ID) - cpuStart, checksum)
}

func json(_ fields: [(String, String)]) -> String {
    "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
}

func run(_ options: Options) throws {
    var generator = SystemRandomNumberGenerator()
    let metadata = [UInt8]((0..<options.metadataBytes).map { _ in UInt8.random(in: 0...255, using: &generator) })
    for suite in options.suites {
        let baseKey = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        // Key id 0x1234 and counters from 2^16 (set below): a 6-byte header, as in a real call.
        let material = try SFrameKeyMaterial(suite: suite, keyID: 0x1234, baseKey: baseKey)
        for size in options.sizes {
            let plaintext = [UInt8]((0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) })
            let sender = SFrameSender()
            sender.setKey(material)
            sender.setCounter(1 << 16)
            // The same frame is opened over and over: no replay window in the way.
            let receiver = SFrameReceiver(detectsReplays: false)
            receiver.addKey(material)
            let frame = try sender.protect(plaintext, metadata: metadata)
            // Check the round trip (and that the tag is checked) before timing anything.
            let (opened, _) = try receiver.unprotect(frame, metadata: metadata)
            guard opened == plaintext else { fatalError("\(suite): round trip changed the plaintext") }
            var tampered = frame
            tampered[tampered.count - 1] ^= 1
            do {
                _ = try receiver.unprotect(tampered, metadata: metadata)
                fatalError("\(suite): a tampered frame was accepted")
            } catch let error as SFrameError where error == .authentication {
                // refused for the right reason
            }
            // SFrameAEAD alone: a fixed nonce is fine for timing (nothing leaves the process).
            let nonce = material.salt
            let sealed = try SFrameAEAD.seal(plaintext, material: material, nonce: nonce, aad: metadata)
            guard Array(try SFrameAEAD.open(sealed, material: material, nonce: nonce, aad: metadata)) == Array(plaintext) else {
                fatalError("\(suite): SFrameAEAD.open does not undo seal")
            }
            // protect-into must produce exactly what protect does for the same counter.
            let intoSender = SFrameSender()
            intoSender.setKey(material)
            intoSender.setCounter(1 << 20)
            let reference = SFrameSender()
            reference.setKey(material)
            reference.setCounter(1 << 20)
            var intoOutput = [UInt8](repeating: 0, count: try intoSender.protectedCount(plaintextCount: size))
            func protectInto() throws -> Int {
                try plaintext.withUnsafeBytes { plaintext in
                    try metadata.withUnsafeBytes { metadata in
                        try intoOutput.withUnsafeMutableBytes { try intoSender.protect(plaintext, metadata: metadata, into: $0) }
                    }
                }
                return intoOutput.count
            }
            _ = try protectInto()
            guard intoOutput == (try reference.protect(plaintext, metadata: metadata)) else {
                fatalError("\(suite): protect-into differs from SFrameSender.protect")
            }
            // framecryptor: a raw key (HKDF), key index 0, Opus frames (1 clear byte).
            let cryptor = try FrameCryptor(configuration: FrameCryptorConfiguration())
            try cryptor.setKey(FrameKeyMaterial(kind: .raw, bytes: baseKey), index: 0)
            var fcOutput = [UInt8](repeating: 0, count: size + FrameCryptor.overhead)
            var fcTimestamp: UInt32 = 0
            func fcEncrypt() throws -> Int {
                fcTimestamp &+= 960
                try plaintext.withUnsafeBytes { frame in
                    guard let plan = try cryptor.prepareEncryption(frame, codec: .audio, isKeyFrame: false, ssrc: 1, rtpTimestamp: fcTimestamp) else { return }
                    try fcOutput.withUnsafeMutableBytes { try cryptor.write(plan, frame: frame, into: $0) }
                }
                return fcOutput.count
            }
            _ = try fcEncrypt()
            let fcFrame = fcOutput
            var fcOpened = [UInt8](repeating: 0, count: size)
            func fcDecrypt() throws -> Int {
                try fcFrame.withUnsafeBytes { frame in
                    guard let plan = try cryptor.prepareDecryption(frame, codec: .audio, isKeyFrame: false) else { return }
                    try fcOpened.withUnsafeMutableBytes { _ = try cryptor.write(plan, frame: frame, into: $0) }
                }
                return fcOpened.count
            }
            _ = try fcDecrypt()
            guard fcOpened == plaintext else { fatalError("framecryptor: round trip changed the plaintext") }
            for op in options.ops {
                let body: () throws -> Int
                switch op {
                case "fc-encrypt": body = fcEncrypt
                case "fc-decrypt": body = fcDecrypt
                case "encrypt": body = { try sender.protect(plaintext, metadata: metadata).count }
                case "decrypt": body = { try receiver.unprotect(frame, metadata: metadata).plaintext.count }
                case "seal": body = { try SFrameAEAD.seal(plaintext, material: material, nonce: nonce, aad: metadata).count }
                case "open": body = { try SFrameAEAD.open(sealed, material: material, nonce: nonce, aad: metadata).count }
                default: body = protectInto
                }
                _ = try measure(seconds: options.warmup, body)
                let (frames, wall, cpu, checksum) = try measure(seconds: options.seconds, body)
                let bytes = Double(size) * Double(frames)
                emit(json([
                    ("bench", "\"sframe\""), ("op", "\"\(op)\""), ("suite", "\"\(suite)\""),
                    ("suite_id", "\"0x" + String(suite.rawValue, radix: 16).leftPadded(to: 4) + "\""),
                    ("size", "\(size)"), ("metadata_bytes", "\(options.metadataBytes)"),
                    ("overhead_bytes", "\(op.hasPrefix("fc") ? FrameCryptor.overhead : frame.count - size)"), ("frames", "\(frames)"),
                    ("wall_s", "\(wall)"), ("cpu_s", "\(cpu)"),
                    ("mb_per_s", "\(bytes / wall / 1e6)"), ("mb_per_s_cpu", "\(bytes / cpu / 1e6)"),
                    ("us_per_frame", "\(wall / Double(frames) * 1e6)"), ("checksum", "\(checksum)"),
                ]) + "\n")
            }
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

do {
    try run(parse(Array(CommandLine.arguments.dropFirst())))
} catch {
    emit("sframe-benchmark: \(error)\n", to: 2)
    exit(1)
}
