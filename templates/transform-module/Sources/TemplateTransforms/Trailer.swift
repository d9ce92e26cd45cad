import TransformModuleKit

/// Encoded frames: the send side appends an 8-byte trailer (4 magic bytes and a big-endian frame
/// counter); the receive side checks and removes it, and drops frames that do not carry it (a
/// sender without the transform, or corruption), telling the application once a second at most.
/// The shape of an end-to-end encryption transform (bytes added on one side, checked and
/// removed on the other), without the cryptography.
public final class Trailer: ModuleTransform {
    public static let name = "trailer"
    public static let summary = "Appends a trailer (magic bytes + frame counter) on the send side; checks and removes it on the receive side, dropping frames without it"
    public static let parameters = [TransformParameterInfo("magic", "4 ASCII characters that start the trailer (default ISM1)")]
    public static let frames = ModuleFrames.encoded(mimeTypes: nil)

    static let trailerSize = 8
    let magic: [UInt8]
    var sent: UInt32 = 0
    var received = 0
    var dropped = 0

    public init(parameters: TransformParameters) throws {
        let text = parameters.string("magic") ?? "ISM1"
        guard text.utf8.count == 4, text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
            throw TransformSpecError("transform 'trailer': magic=\(text) is invalid; magic must be 4 ASCII characters (default ISM1)")
        }
        magic = Array(text.utf8)
    }

    public func transform(_ frame: ModuleFrame, controller: ModuleController) throws {
        let original = frame.bytes
        if frame.side == .send {
            let output = try frame.replaceBytes(count: original.count + Self.trailerSize)
            if original.count > 0 { output.baseAddress!.copyMemory(from: original.baseAddress!, byteCount: original.count) }
            for (index, byte) in magic.enumerated() { output[original.count + index] = byte }
            withUnsafeBytes(of: sent.bigEndian) { counter in
                for index in 0..<4 { output[original.count + 4 + index] = counter[index] }
            }
            sent &+= 1
            try controller.enqueue(frame)
            return
        }
        let count = original.count
        guard count >= Self.trailerSize, Array(original[(count - Self.trailerSize)..<(count - 4)]) == magic else {
            dropped += 1
            if dropped == 1 || dropped % 30 == 0 {
                try controller.postMessage(TransformMessage("trailer/missing", ["dropped": .int(dropped), "received": .int(received)]))
            }
            return  // not enqueued: dropped
        }
        received += 1
        let body = try frame.replaceBytes(count: count - Self.trailerSize)
        if body.count > 0 { body.baseAddress!.copyMemory(from: original.baseAddress!, byteCount: body.count) }
        try controller.enqueue(frame)
    }

    public func receive(message: TransformMessage, controller: ModuleController) throws {
        if message.name == "trailer/stats" {
            try controller.postMessage(TransformMessage("trailer/stats", ["sent": .int(Int(sent)), "received": .int(received), "dropped": .int(dropped)]))
        }
    }
}
