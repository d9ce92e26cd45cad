import Foundation
import InsertableStreams
import Synchronization

/// Encoded transforms only the tests register. Those that record what they saw file it under
/// the `name` of their element's options, so that parallel elements do not mix.
enum EncodedTestTransforms {
    struct Seen: Sendable {
        var side: TransformSide
        var video: EncodedVideoFrameMetadata?
        var audio: EncodedAudioFrameMetadata?
        var type: EncodedVideoFrameType?
        var byteCount: Int
    }

    static let seen = Mutex<[String: [Seen]]>([:])
    static let messages = Mutex<[String: [TransformMessage]]>([:])
    static let keyFrameRequests = Mutex<[String: Int]>([:])
    /// `echo`'s `hold` message waits on it (the worker thread stays busy until the test signals).
    static let gate = DispatchSemaphore(value: 0)

    static func frames(_ name: String) -> [Seen] { seen.withLock { $0[name] ?? [] } }

    static func register() {
        EncodedTransformRegistry.register(EncodedTransformDescriptor(name: "record", summary: "records metadata (tests)") { _, context in
            Record(name: context.options.string("name") ?? "")
        })
        EncodedTransformRegistry.register(EncodedTransformDescriptor(name: "swap-pairs", summary: "emits frames 2k+1, 2k (tests)") { _, _ in SwapPairs() })
        EncodedTransformRegistry.register(EncodedTransformDescriptor(name: "twice", summary: "enqueues every frame twice (tests)") { _, _ in Twice() })
        EncodedTransformRegistry.register(EncodedTransformDescriptor(name: "copy", summary: "enqueues a copy with payload type 42 (tests)") { _, _ in CopyWithMetadata() })
        EncodedTransformRegistry.register(EncodedTransformDescriptor(name: "fail-odd", summary: "throws on odd frames (tests)") { _, _ in FailOddEncoded() })
        EncodedTransformRegistry.register(EncodedTransformDescriptor(name: "echo", summary: "answers messages (tests)") { _, _ in Echo() })
        EncodedTransformRegistry.register(EncodedTransformDescriptor(name: "from-other-thread", summary: "enqueues from another thread (tests)") { _, _ in FromOtherThread() })
        EncodedTransformRegistry.register(EncodedTransformDescriptor(name: "opus-only", summary: "accepts Opus only (tests)") { _, _ in OpusOnly() })
        EncodedTransformRegistry.register(EncodedTransformDescriptor(name: "failing-start", summary: "throws from start (tests)") { _, _ in FailingStart() })
    }
}

final class Record: EncodedFrameTransformer {
    let name: String
    init(name: String) { self.name = name }

    func transform(_ frame: EncodedFrame, controller: EncodedTransformController) throws {
        var seen = EncodedTestTransforms.Seen(side: controller.side, byteCount: frame.byteCount)
        if let video = frame as? EncodedVideoFrame {
            seen.video = video.metadata()
            seen.type = video.type
        } else if let audio = frame as? EncodedAudioFrame {
            seen.audio = audio.metadata()
        }
        EncodedTestTransforms.seen.withLock { $0[name, default: []].append(seen) }
        try controller.enqueue(frame)
    }

    func keyFrameRequested(_ request: KeyFrameRequest, controller: EncodedTransformController) {
        EncodedTestTransforms.keyFrameRequests.withLock { $0[name, default: 0] += 1 }
        if controller.options.bool("cancel-key-frame-requests") == true { request.cancel() }
    }
}

final class SwapPairs: EncodedFrameTransformer {
    private var held: EncodedFrame?
    func transform(_ frame: EncodedFrame, controller: EncodedTransformController) throws {
        if let earlier = held {
            held = nil
            try controller.enqueue(frame)
            try controller.enqueue(earlier)  // older than the last written: dropped by the element
        } else {
            held = frame
        }
    }
    func flush(controller: EncodedTransformController) throws {
        if let held { try controller.enqueue(held) }
    }
}

/// The copy constructor: a copy with an overridden payload type replaces each frame.
final class CopyWithMetadata: EncodedFrameTransformer {
    static let payloadTypes = Mutex<[UInt8?]>([])
    func transform(_ frame: EncodedFrame, controller: EncodedTransformController) throws {
        guard let video = frame as? EncodedVideoFrame else { return try controller.enqueue(frame) }
        var metadata = video.metadata()
        metadata.payloadType = 42
        let copy = try EncodedVideoFrame(copying: video, metadata: metadata)
        Self.payloadTypes.withLock { $0.append(copy.metadata().payloadType) }
        video.close()
        try controller.enqueue(copy)
    }
}

final class Twice: EncodedFrameTransformer {
    func transform(_ frame: EncodedFrame, controller: EncodedTransformController) throws {
        try controller.enqueue(frame)
        try controller.enqueue(frame)
    }
}

struct OddEncodedFrameError: Error, CustomStringConvertible {
    var description: String { "test transform refuses odd encoded frames" }
}

final class FailOddEncoded: EncodedFrameTransformer {
    private var index = 0
    func transform(_ frame: EncodedFrame, controller: EncodedTransformController) throws {
        defer { index += 1 }
        if index % 2 == 1 { throw OddEncodedFrameError() }
        try controller.enqueue(frame)
    }
}

/// Answers `ping` messages with `pong` carrying the same fields plus its side and options name;
/// `generate` asks for a key frame and answers `generated` when it arrives; `request` asks the
/// remote sender. Errors are answered as `error, text=...`.
final class Echo: EncodedFrameTransformer {
    func transform(_ frame: EncodedFrame, controller: EncodedTransformController) throws { try controller.enqueue(frame) }

    func receive(message: TransformMessage, controller: EncodedTransformController) throws {
        EncodedTestTransforms.messages.withLock { $0[controller.options.string("name") ?? "", default: []].append(message) }
        switch message.name {
        case "hold":
            EncodedTestTransforms.gate.wait()
        case "ping":
            var answer = message
            answer.name = "pong"
            answer["side"] = .string(controller.side.rawValue)
            answer["options-name"] = .string(controller.options.string("name") ?? "")
            controller.postMessage(answer)
        case "generate":
            do {
                try controller.generateKeyFrame(rid: message.string("rid")) { [weak controller] result in
                    if case .success(let timestamp) = result {
                        controller?.postMessage(TransformMessage("generated", ["timestamp": .int(Int(timestamp ?? -1))]))
                    }
                }
            } catch {
                controller.postMessage(TransformMessage("error", ["text": .string("\(error)")]))
            }
        case "request":
            do { try controller.sendKeyFrameRequest() } catch {
                controller.postMessage(TransformMessage("error", ["text": .string("\(error)")]))
            }
        default:
            break
        }
    }
}

/// Hands every frame to a helper thread, which enqueues it.
final class FromOtherThread: EncodedFrameTransformer {
    func transform(_ frame: EncodedFrame, controller: EncodedTransformController) throws {
        final class Handoff: @unchecked Sendable {
            let frame: EncodedFrame
            let controller: EncodedTransformController
            init(_ frame: EncodedFrame, _ controller: EncodedTransformController) { self.frame = frame; self.controller = controller }
        }
        let handoff = Handoff(frame, controller)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            try? handoff.controller.enqueue(handoff.frame)
            done.signal()
        }
        done.wait()
    }
}

final class OpusOnly: EncodedFrameTransformer {
    var supportedCodecs: Set<EncodedCodec>? { [.opus] }
    func transform(_ frame: EncodedFrame, controller: EncodedTransformController) throws { try controller.enqueue(frame) }
}

struct StartFailure: Error, CustomStringConvertible {
    var description: String { "no key material" }
}

final class FailingStart: EncodedFrameTransformer {
    func start(controller: EncodedTransformController) throws { throw StartFailure() }
    func transform(_ frame: EncodedFrame, controller: EncodedTransformController) throws { try controller.enqueue(frame) }
}
