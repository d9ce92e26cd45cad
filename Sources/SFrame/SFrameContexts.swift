#if canImport(FoundationEssentials)
import FoundationEssentials  // what swift-crypto uses: no ICU in the plugin
#else
import Foundation
#endif

/// Encrypts frames under the current key: `header || AEAD(key, salt ^ ctr, header || metadata, pt)`.
///
/// A counter value is never used twice under a key id: switching back to a key id resumes
/// where that key id stopped, and an exhausted counter makes `protect` refuse rather than wrap.
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
        case .zero: 0
        case .clock: UInt64(max(0, Date().timeIntervalSince1970 * 1_000_000))
        }
    }

    /// Encrypts `plaintext`; `metadata` is authenticated but not sent (both ends must know it).
    public func protect(_ plaintext: some DataProtocol, metadata: some DataProtocol = Data()) throws -> Data {
        guard let material else { throw SFrameError.noKey }
        guard let current = counter else { throw SFrameError.counterExhausted(material.keyID) }
        let header = SFrameHeader(keyID: material.keyID, counter: current).encoded
        var aad = Data(header)
        aad.append(contentsOf: metadata)
        let sealed = try SFrameAEAD.seal(plaintext, material: material, nonce: material.nonce(counter: current), aad: aad)
        counter = current == .max ? nil : current + 1
        return Data(header) + sealed
    }
}

/// Decrypts frames with any of the keys it holds, chosen by the frame's key id, and refuses
/// frames it has already accepted (a sliding replay window per key id).
public final class SFrameReceiver: @unchecked Sendable {
    private struct Entry {
        let material: SFrameKeyMaterial
        var window = ReplayWindow()
    }

    private var keys: [UInt64: Entry] = [:]
    private let detectsReplays: Bool

    /// `detectsReplays`: refuse a counter seen before or older than the 64 frames before the
    /// newest one (counted as `replay`). Disable only for senders that restart their counter
    /// under the same key.
    public init(detectsReplays: Bool = true) {
        self.detectsReplays = detectsReplays
    }

    /// Adds or replaces the key of `material.keyID`. Re-adding the same key keeps its replay window.
    public func addKey(_ material: SFrameKeyMaterial) {
        if let existing = keys[material.keyID], existing.material.keyBytes == material.keyBytes,
           existing.material.salt == material.salt, existing.material.suite == material.suite {
            return
        }
        keys[material.keyID] = Entry(material: material)
    }

    @discardableResult
    public func removeKey(_ keyID: UInt64) -> Bool { keys.removeValue(forKey: keyID) != nil }
    public var keyIDs: [UInt64] { keys.keys.sorted() }

    /// The plaintext of `frame` and its header, or the reason it was refused.
    public func unprotect(_ frame: some DataProtocol, metadata: some DataProtocol = Data()) throws -> (plaintext: Data, header: SFrameHeader) {
        let (header, headerCount) = try SFrameHeader.decode(frame)
        guard let entry = keys[header.keyID] else { throw SFrameError.unknownKeyID(header.keyID) }
        let material = entry.material
        let sealed = frame.dropFirst(headerCount)
        guard sealed.count >= material.suite.tagCount else {
            throw SFrameError.syntax("frame of \(frame.count) bytes is shorter than its header and \(material.suite.tagCount)-byte tag")
        }
        var aad = Data(frame.prefix(headerCount))
        aad.append(contentsOf: metadata)
        let plaintext = try SFrameAEAD.open(sealed, material: material, nonce: material.nonce(counter: header.counter), aad: aad)
        // Checked after authentication, so that `replay` means an authentic frame seen before
        // (a forged one is `authentication`), and only authentic counters move the window.
        if detectsReplays {
            guard entry.window.admits(header.counter) else { throw SFrameError.replay(keyID: header.keyID, counter: header.counter) }
            keys[header.keyID]?.window.record(header.counter)
        }
        return (plaintext, header)
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
