/// The keys of one participant's stream, by key index (LiveKit's ParticipantKeyHandler): each
/// slot holds its material, the AES key derived from it, the ratchet steps derived so far, and
/// its failure count. Not thread-safe: it belongs to one stream's worker.
public struct FrameKeyRing: Sendable {
    struct Slot: Sendable {
        var keySet: FrameKeySet
        /// Ratchet steps of `keySet` derived on an earlier failure (PBKDF2 costs tens of
        /// milliseconds a step: derived once per key, not once per bad frame).
        var ratchetSteps: [FrameKeySet] = []
        var failures = 0
        var invalidated = false
    }

    public let size: Int
    let derivation: FrameKeyDerivation
    private(set) var slots: [Slot?]
    /// The sender encrypts with this slot (the last one `setKey` filled, as the SDKs do).
    public private(set) var currentIndex = 0

    public static let sizes = 1...256

    public init(size: Int, derivation: FrameKeyDerivation) throws {
        guard Self.sizes.contains(size) else {
            throw FrameCryptorError.invalidKey("key-ring-size=\(size): a key ring holds 1 to 256 keys")
        }
        self.size = size
        self.derivation = derivation
        slots = Array(repeating: nil, count: size)
    }

    func checked(_ index: Int) throws -> Int {
        guard (0..<size).contains(index) else {
            throw FrameCryptorError.invalidKey("key-index=\(index) is outside the key ring (0 to \(size - 1); key-ring-size sets its size)")
        }
        return index
    }

    /// Fills slot `index` with `material` and makes it the sender's current key.
    public mutating func setKey(_ material: FrameKeyMaterial, index: Int) throws {
        let index = try checked(index)
        slots[index] = Slot(keySet: try derivation.keySet(material))
        currentIndex = index
    }

    /// Moves slot `index` one ratchet step on (the `ratchet-key` message: senders encrypt
    /// with the next key; receivers would otherwise find it within their ratchet window).
    public mutating func ratchet(index: Int) throws {
        let index = try checked(index)
        guard var slot = slots[index] else { throw FrameCryptorError.missingKey(keyIndex: index) }
        let next = try slot.ratchetSteps.first ?? derivation.keySet(derivation.ratchet(slot.keySet.material))
        slot = Slot(keySet: next, ratchetSteps: Array(slot.ratchetSteps.dropFirst()))
        slots[index] = slot
    }

    public func hasKey(_ index: Int) -> Bool { (0..<size).contains(index) && slots[index] != nil }
    public var filledIndices: [Int] { slots.indices.filter { slots[$0] != nil } }

    /// Ratchet step `step` (1-based) of slot `index`, derived now if not yet.
    mutating func ratchetStep(_ step: Int, index: Int) throws -> FrameKeySet {
        guard var slot = slots[index] else { throw FrameCryptorError.missingKey(keyIndex: index) }
        while slot.ratchetSteps.count < step {
            let previous = slot.ratchetSteps.last ?? slot.keySet
            slot.ratchetSteps.append(try derivation.keySet(derivation.ratchet(previous.material)))
        }
        slots[index] = slot
        return slot.ratchetSteps[step - 1]
    }

    /// A frame decrypted with slot `index` after `step` ratchet steps (0: the key itself).
    mutating func succeeded(index: Int, step: Int) {
        guard var slot = slots[index] else { return }
        if step > 0 {
            slot.keySet = slot.ratchetSteps[step - 1]
            slot.ratchetSteps.removeFirst(step)
        }
        slot.failures = 0
        slot.invalidated = false
        slots[index] = slot
    }

    /// A frame failed with slot `index` and every ratchet step tried; returns whether the
    /// slot is now invalidated (more failures than `tolerance`, when it is not -1).
    mutating func failed(index: Int, tolerance: Int) -> Bool {
        guard var slot = slots[index] else { return false }
        slot.failures += 1
        if tolerance >= 0, slot.failures > tolerance { slot.invalidated = true }
        slots[index] = slot
        return slot.invalidated
    }
}
