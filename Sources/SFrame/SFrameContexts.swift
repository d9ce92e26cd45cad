#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Encrypts frames under the current key: `header || AEAD(key, salt ^ ctr, header || metadata, pt)`.
///
/// A counter value is never used twice under a key id: switching back to a key id resumes
/// where that key id stopped, and an exhausted counter makes `protect` refuse rather than wrap.
/// Not thread-safe: one sender belongs to one stream's worker.
public final class SFrameSender: @unchecked Sendable {
    /// Where the counter of a key id never used by this sender starts.
    public enum CounterStart: Sendable, Equatable {
        /// 0, as RFC 9605's examples do. Restarting a sender with the same static key then reuses
        /// nonces: use only with keys that are never reused across sessions.
        case zero
        /// The wall clock in microseconds (a 7-byte counter today). A sender restarted with the
        /// same static key starts above every counter of its previous run (it would have to
        /// have encrypted more than a million frames a second to catch up with the clock), so
        /// nonces are not reused and receivers' replay windows keep accepting it.
        case clock
    }

    private let counterStart: CounterStart
    private var material: SFrameKeyMaterial?
    /// The next counter of the current key; nil once exhausted.
    private var counter: UInt64? = 0
    /// Where each key id used before stopped (nil: exhausted).
    private var resumeCounters: [UInt64: UInt64?] = [:]

    public init(counterStart: CounterStart = .zero) {
        self.counterStart = counterStart
    }

    /// The key frames are encrypted with from now on (`setEncryptionKey(key, keyID)`).
    public func setKey(_ material: SFrameKeyMaterial) {
        if let current = self.material { resumeCounters[current.keyID] = counter }
        self.material = material
        if let resume = resumeCounters[material.keyID] {
            counter = resume.map { max($0, startValue()) }
        } else {
            counter = startValue()
        }
    }

    /// Stops encrypting: `protect` refuses until a key is set again.
    public func clearKey() {
        if let current = material { resumeCounters[current.keyID] = counter }
        material = nil
    }

    public var keyID: UInt64? { material?.keyID }
    public var hasKey: Bool { material != nil }
    /// The counter the next frame gets (nil when exhausted or no key).
    public var nextCounter: UInt64? { material == nil ? nil : counter }

    /// The next counter value (tests start it elsewhere to check exhaustion).
    public func setCounter(_ value: UInt64) { counter = value }

    private func startValue() -> UInt64 {
        switch counterStart {
        case .zero:
            return 0
        case .clock:
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            return UInt64(max(0, now.tv_sec)) &* 1_000_000 &+ UInt64(max(0, now.tv_nsec / 1000))
        }
    }

    /// The key and counter the next frame gets, or why there is none.
    private func next() throws -> (SFrameKeyMaterial, SFrameHeader) {
        guard let material else { throw SFrameError.noKey }
        guard let current = counter else { throw SFrameError.counterExhausted(material.keyID) }
        return (material, SFrameHeader(keyID: material.keyID, counter: current))
    }

    /// The size of the next protected frame of `plaintextCount` bytes (header, ciphertext, tag).
    public func protectedCount(plaintextCount: Int) throws -> Int {
        let (material, header) = try next()
        return header.count + plaintextCount + material.suite.tagCount
    }

    /// Encrypts `plaintext` into `output` (exactly `protectedCount(plaintextCount:)` bytes):
    /// header || ciphertext || tag. `metadata` is authenticated but not sent (both ends must
    /// know it). The counter moves on only when the frame was written.
    public func protect(_ plaintext: UnsafeRawBufferPointer, metadata: UnsafeRawBufferPointer,
                        into output: UnsafeMutableRawBufferPointer) throws {
        let (material, header) = try next()
        let headerCount = header.count
        guard output.count == headerCount + plaintext.count + material.suite.tagCount else {
            throw SFrameError.invalidArgument("the output needs \(headerCount + plaintext.count + material.suite.tagCount) bytes, not \(output.count)")
        }
        header.write(into: output)
        let sealed = UnsafeMutableRawBufferPointer(rebasing: output[headerCount...])
        try withAAD(UnsafeRawBufferPointer(rebasing: output[..<headerCount]), metadata) { aad in
            try material.withNonce(counter: header.counter) { nonce in
                try SFrameAEAD.seal(plaintext, material: material, nonce: nonce, aad: aad, into: sealed)
            }
        }
        counter = header.counter == .max ? nil : header.counter + 1
    }

    /// Encrypts `plaintext` into a new array.
    public func protect(_ plaintext: UnsafeRawBufferPointer, metadata: UnsafeRawBufferPointer) throws -> [UInt8] {
        var output = [UInt8](repeating: 0, count: try protectedCount(plaintextCount: plaintext.count))
        try output.withUnsafeMutableBytes { try protect(plaintext, metadata: metadata, into: $0) }
        return output
    }

    public func protect(_ plaintext: [UInt8], metadata: [UInt8] = []) throws -> [UInt8] {
        try plaintext.withUnsafeBytes { plaintext in try metadata.withUnsafeBytes { try protect(plaintext, metadata: $0) } }
    }
}

/// Decrypts frames with any of the keys it holds, chosen by the frame's key id, and refuses
/// frames it has already accepted (a sliding replay window per key id). Not thread-safe: one
/// receiver belongs to one stream's worker.
public final class SFrameReceiver: @unchecked Sendable {
    /// One key and the counters accepted under it (a class: a frame reads the key and moves
    /// the window through one reference, without copying the key material).
    private final class Entry {
        let keyID: UInt64
        let material: SFrameKeyMaterial
        var window = ReplayWindow()
        init(material: SFrameKeyMaterial) {
            keyID = material.keyID
            self.material = material
        }
    }

    /// The keys held. A stream holds a few keys at a time (the current one, the next during a
    /// rotation): a scan of their ids costs a frame less than hashing its key id.
    private var entries: [Entry] = []
    private let detectsReplays: Bool

    /// `detectsReplays`: refuse a counter seen before or older than the 64 frames before the
    /// newest one (counted as `replay`). Disable only for senders that restart their counter
    /// under the same key.
    public init(detectsReplays: Bool = true) {
        self.detectsReplays = detectsReplays
    }

    /// Adds or replaces the key of `material.keyID`. Re-adding the same key keeps its replay window.
    public func addKey(_ material: SFrameKeyMaterial) {
        guard let index = index(of: material.keyID) else {
            entries.append(Entry(material: material))
            return
        }
        let existing = entries[index].material
        if existing.keyBytes == material.keyBytes, existing.salt == material.salt, existing.suite == material.suite { return }
        entries[index] = Entry(material: material)
    }

    @discardableResult
    public func removeKey(_ keyID: UInt64) -> Bool {
        guard let index = index(of: keyID) else { return false }
        entries.remove(at: index)
        return true
    }

    public var keyIDs: [UInt64] { entries.map(\.keyID).sorted() }

    private func index(of keyID: UInt64) -> Int? { entries.firstIndex { $0.keyID == keyID } }

    /// The header of `frame`, its size and the key it names, or why the frame cannot be opened.
    private func parse(_ frame: UnsafeRawBufferPointer) throws -> (SFrameHeader, Int, Entry) {
        let (header, headerCount) = try SFrameHeader.decode(frame)
        guard let index = index(of: header.keyID) else { throw SFrameError.unknownKeyID(header.keyID) }
        let entry = entries[index]
        let tagCount = entry.material.suite.tagCount
        guard frame.count - headerCount >= tagCount else {
            throw SFrameError.syntax("frame of \(frame.count) bytes is shorter than its header and \(tagCount)-byte tag")
        }
        return (header, headerCount, entry)
    }

    /// The plaintext size of `frame`, or why it cannot be opened (header, key id, length).
    public func plaintextCount(of frame: UnsafeRawBufferPointer) throws -> Int {
        let (_, headerCount, entry) = try parse(frame)
        return frame.count - headerCount - entry.material.suite.tagCount
    }

    /// Decrypts `frame` into `output` (exactly `plaintextCount(of:)` bytes) and returns its
    /// header, or the reason it was refused (then `output` must not be used).
    @discardableResult
    public func unprotect(_ frame: UnsafeRawBufferPointer, metadata: UnsafeRawBufferPointer,
                          into output: UnsafeMutableRawBufferPointer) throws -> SFrameHeader {
        let (header, headerCount, entry) = try parse(frame)
        let sealed = UnsafeRawBufferPointer(rebasing: frame[headerCount...])
        try withAAD(UnsafeRawBufferPointer(rebasing: frame[..<headerCount]), metadata) { aad in
            try entry.material.withNonce(counter: header.counter) { nonce in
                try SFrameAEAD.open(sealed, material: entry.material, nonce: nonce, aad: aad, into: output)
            }
        }
        // Checked after authentication, so that `replay` means an authentic frame seen before
        // (a forged one is `authentication`), and only authentic counters move the window.
        if detectsReplays {
            guard entry.window.admits(header.counter) else { throw SFrameError.replay(keyID: header.keyID, counter: header.counter) }
            entry.window.record(header.counter)
        }
        return header
    }

    /// The plaintext of `frame` (a new array) and its header, or the reason it was refused.
    public func unprotect(_ frame: UnsafeRawBufferPointer, metadata: UnsafeRawBufferPointer) throws -> (plaintext: [UInt8], header: SFrameHeader) {
        var plaintext = [UInt8](repeating: 0, count: try plaintextCount(of: frame))
        let header = try plaintext.withUnsafeMutableBytes { try unprotect(frame, metadata: metadata, into: $0) }
        return (plaintext, header)
    }

    public func unprotect(_ frame: [UInt8], metadata: [UInt8] = []) throws -> (plaintext: [UInt8], header: SFrameHeader) {
        try frame.withUnsafeBytes { frame in try metadata.withUnsafeBytes { try unprotect(frame, metadata: $0) } }
    }
}

/// Calls `body` with `header || metadata` (SFrame's AAD) in one buffer: on the stack when small.
func withAAD<R>(_ header: UnsafeRawBufferPointer, _ metadata: UnsafeRawBufferPointer,
                _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    try withUnsafeTemporaryAllocation(byteCount: header.count + metadata.count, alignment: 1) { aad in
        UnsafeMutableRawBufferPointer(rebasing: aad[..<header.count]).copyMemory(from: header)
        if metadata.count > 0 { UnsafeMutableRawBufferPointer(rebasing: aad[header.count...]).copyMemory(from: metadata) }
        return try body(UnsafeRawBufferPointer(aad))
    }
}

/// The counters accepted lately under one key: the newest and a bitmap of the 63 before it.
struct ReplayWindow {
    private var newest: UInt64?
    private var seen: UInt64 = 0

    static let width: UInt64 = 64

    func admits(_ counter: UInt64) -> Bool {
        guard let newest, counter <= newest else { return true }
        let age = newest - counter
        return age < Self.width && seen & (1 << age) == 0
    }

    mutating func record(_ counter: UInt64) {
        guard let current = newest else {
            newest = counter
            seen = 1
            return
        }
        if counter > current {
            let shift = counter - current
            seen = shift >= Self.width ? 1 : seen << shift | 1
            newest = counter
        } else {
            seen |= 1 << (current - counter)
        }
    }
}
