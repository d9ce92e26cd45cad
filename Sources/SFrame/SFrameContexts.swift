import Foundation

/// Encrypts frames under the current key: `header || AEAD(key, salt ^ ctr, header || metadata, pt)`.
/// The counter starts at 0 for every new key and is never reused: when it is exhausted,
/// `protect` refuses instead of wrapping.
public final class SFrameSender: @unchecked Sendable {
    private var material: SFrameKeyMaterial?
    private var counter: UInt64 = 0
    private var exhausted = false

    public init() {}

    /// The key frames are encrypted with from now on (`setEncryptionKey(key, keyID)`).
    public func setKey(_ material: SFrameKeyMaterial) {
        self.material = material
        counter = 0
        exhausted = false
    }

    public var keyID: UInt64? { material?.keyID }
    public var hasKey: Bool { material != nil }

    /// The next counter value (tests start it elsewhere to check exhaustion).
    public func setCounter(_ value: UInt64) { counter = value; exhausted = false }

    /// Encrypts `plaintext`; `metadata` is authenticated but not sent (both ends must know it).
    public func protect(_ plaintext: some DataProtocol, metadata: some DataProtocol = Data()) throws -> Data {
        guard let material else { throw SFrameError.invalidArgument("no encryption key set") }
        guard !exhausted else { throw SFrameError.counterExhausted(material.keyID) }
        let header = SFrameHeader(keyID: material.keyID, counter: counter).encoded
        var aad = Data(header)
        aad.append(contentsOf: metadata)
        let sealed = try SFrameAEAD.seal(plaintext, material: material, nonce: material.nonce(counter: counter), aad: aad)
        if counter == .max { exhausted = true } else { counter += 1 }
        return Data(header) + sealed
    }
}

/// Decrypts frames with any of the keys it holds, chosen by the frame's key id.
public final class SFrameReceiver: @unchecked Sendable {
    private var keys: [UInt64: SFrameKeyMaterial] = [:]

    public init() {}

    public func addKey(_ material: SFrameKeyMaterial) { keys[material.keyID] = material }
    public func removeKey(_ keyID: UInt64) { keys[keyID] = nil }
    public var keyIDs: [UInt64] { keys.keys.sorted() }

    /// The plaintext of `frame` and its header, or the reason it was refused.
    public func unprotect(_ frame: some DataProtocol, metadata: some DataProtocol = Data()) throws -> (plaintext: Data, header: SFrameHeader) {
        let (header, headerCount) = try SFrameHeader.decode(frame)
        guard let material = keys[header.keyID] else { throw SFrameError.unknownKeyID(header.keyID) }
        let sealed = frame.dropFirst(headerCount)
        guard sealed.count >= material.suite.tagCount else {
            throw SFrameError.syntax("frame of \(frame.count) bytes is shorter than its header and \(material.suite.tagCount)-byte tag")
        }
        var aad = Data(frame.prefix(headerCount))
        aad.append(contentsOf: metadata)
        let plaintext = try SFrameAEAD.open(sealed, material: material, nonce: material.nonce(counter: header.counter), aad: aad)
        return (plaintext, header)
    }
}
