import EncodedStreams

/// The MDN example's transform: every byte b becomes ~b, which the same transform on the other
/// end undoes. Bytes that payloaders and depayloaders parse stay clear (`ClearBytesPolicy`);
/// for H.264/H.265 the negated body is escaped on the send side and unescaped on the receive
/// side, so this transform must know its side (the element tells it).
final class NegateTransform: EncodedFrameTransformer {
    let policy: ClearBytesPolicy

    init(policy: ClearBytesPolicy) { self.policy = policy }

    func transform(_ frame: EncodedFrame, controller: EncodedTransformController) throws {
        // Only H.264/H.265 bodies are escaped (a new frame of another size); the other codecs'
        // frames are read for their layout and negated in place in one writable map.
        if policy == .none || (frame.codec != .h264 && frame.codec != .h265) {
            try frame.withUnsafeMutableBytes { bytes in
                let layout = FrameLayout.of(UnsafeRawBufferPointer(bytes), codec: frame.codec, policy: policy)
                Self.negate(UnsafeMutableRawBufferPointer(rebasing: bytes[layout.clearCount...]))
            }
            try controller.enqueue(frame)
            return
        }
        let layout = try frame.withUnsafeBytes { FrameLayout.of($0, codec: frame.codec, policy: policy) }
        if !layout.escapesBody {
            try frame.withUnsafeMutableBytes { bytes in
                Self.negate(UnsafeMutableRawBufferPointer(rebasing: bytes[layout.clearCount...]))
            }
        } else if controller.side == .send {
            try escapeNegated(frame, clearCount: layout.clearCount)
        } else {
            try unescapeNegated(frame, clearCount: layout.clearCount)
        }
        try controller.enqueue(frame)
    }

    /// Send side, H.264/H.265: clear prefix + escape(~body).
    private func escapeNegated(_ frame: EncodedFrame, clearCount: Int) throws {
        let original = frame.data
        var negated = Array(original[clearCount...])
        negated.withUnsafeMutableBytes { Self.negate($0) }
        let escapedCount = negated.withUnsafeBytes { H26xEscaping.escapedCount($0) }
        try frame.replaceData(count: clearCount + escapedCount) { output in
            original.withUnsafeBytes { output.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[..<clearCount])) }
            negated.withUnsafeBytes { H26xEscaping.escape($0, into: UnsafeMutableRawBufferPointer(rebasing: output[clearCount...])) }
        }
    }

    /// Receive side, H.264/H.265: clear prefix + ~unescape(body).
    private func unescapeNegated(_ frame: EncodedFrame, clearCount: Int) throws {
        let original = frame.data
        guard var body = original.withUnsafeBytes({ H26xEscaping.unescape(UnsafeRawBufferPointer(rebasing: $0[clearCount...])) }) else {
            throw NegateError("a \(frame.codec.mimeType) frame's rewritten part is not escaped (no trailer or a start code inside): it was not negated by this transform on the send side, or negate's clear= differs between the ends")
        }
        body.withUnsafeMutableBytes { Self.negate($0) }
        try frame.replaceData(count: clearCount + body.count) { output in
            original.withUnsafeBytes { output.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[..<clearCount])) }
            body.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: output[clearCount...]).copyMemory(from: $0) }
        }
    }

    /// Word at a time; the tail byte by byte.
    static func negate(_ bytes: UnsafeMutableRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        let words = bytes.count / 8
        for index in 0..<words {
            let pointer = base + index * 8
            pointer.storeBytes(of: ~pointer.loadUnaligned(as: UInt64.self), as: UInt64.self)
        }
        for index in (words * 8)..<bytes.count { bytes[index] = ~bytes[index] }
    }
}

struct NegateError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
