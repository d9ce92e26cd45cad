import CGStreamer
import GStreamerBridge
import MediaStreams

/// The message signals of every element that runs transforms: `post-message` (application ->
/// transforms), `post-worker-message` (a transform-frame handler -> application) and `message`
/// (what transforms post, also an element message on the bus).
protocol TransformMessaging: ElementSubclass {
    /// Hands `message` to the running transforms; false when none runs.
    func deliverToTransforms(_ message: TransformMessage) -> Bool
    /// When messages can reach the transforms, for the warning when they cannot.
    var whenTransformsRun: String { get }
}

extension TransformMessaging {
    /// `post-message`. Warnings name the message, never its fields (they may hold keys).
    func postMessage(_ text: String?) {
        guard let message = parse(text, signal: "post-message") else { return }
        if !deliverToTransforms(message) {
            postWarning(.core(GST_CORE_ERROR_STATE_CHANGE), "post-message: the transform is not running, message \(message.name) dropped",
                        debug: whenTransformsRun)
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
