import CGStreamer
import GStreamerBridge
import Handoff
import MediaStreams

/// The message signals of every element that runs transforms: `post-message` (application ->
/// transforms), `post-worker-message` (a transform-frame handler -> application) and `message`
/// (what transforms post, also an element message on the bus).
/// What became of a `post-message`.
enum MessageDelivery: Equatable {
    case queued
    /// No transform runs (the element is not started).
    case notRunning
    /// The worker's message lane is full: `waiting` messages wait for the transforms already.
    case full(waiting: Int)
}

protocol TransformMessaging: ElementSubclass {
    /// Hands `message` to the running transforms.
    func deliverToTransforms(_ message: TransformMessage) -> MessageDelivery
    /// When messages can reach the transforms, for the warning when they cannot.
    var whenTransformsRun: String { get }
}

extension TransformMessaging {
    /// `post-message`. Warnings name the message, never its fields (they may hold keys).
    func postMessage(_ text: String?) {
        guard let message = parse(text, signal: "post-message") else { return }
        switch deliverToTransforms(message) {
        case .queued:
            break
        case .notRunning:
            postWarning(.core(GST_CORE_ERROR_STATE_CHANGE), "post-message: the transform is not running, message \(message.name) dropped",
                        debug: whenTransformsRun)
        case .full(let waiting):
            postWarning(.resource(GST_RESOURCE_ERROR_BUSY),
                        "post-message: \(waiting) messages already wait for the transform, message \(message.name) dropped",
                        debug: "the worker handles messages between frames, one at a time (a passphrase takes tens of ms to derive); "
                            + "post the next message after the transform's reply (its `message` signal) or less often")
        }
    }

    /// `post-worker-message`: what a transform-frame handler posts, as a transform's postMessage.
    func postWorkerMessage(_ text: String?) {
        guard let message = parse(text, signal: "post-worker-message") else { return }
        deliverToApplication(message)
    }

    /// A transform's `postMessage`: the `message` signal, then an element message on the bus.
    func deliverToApplication(_ message: TransformMessage) {
        let text = message.description
        emitSignal("message", [.structure(text)])
        postElementMessage(text)
    }

    private func parse(_ text: String?, signal: String) -> TransformMessage? {
        guard let text, let message = try? TransformMessage(parsing: text) else {
            postWarning(.core(GST_CORE_ERROR_FAILED), "\(signal) needs a GstStructure",
                        debug: "emit \(signal) with a GstStructure, e.g. Gst.Structure.new_from_string(\"settings, level=(int)3\")")
            return nil
        }
        return message
    }
}

extension MessageDelivery {
    init<Data, Control>(_ result: HandoffQueue<Data, Control>.ControlPushResult) {
        switch result {
        case .accepted: self = .queued
        case .closed: self = .notRunning
        case .full(let waiting): self = .full(waiting: waiting)
        }
    }
}
