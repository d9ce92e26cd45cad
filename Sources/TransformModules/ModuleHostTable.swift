import CTransformModule

/// The plugin's `ISMHost`: one table for every module and call, each function finding its
/// `ModuleCall` through the controller it is given.
enum ModuleHostTable {
    /// Allocated once, never freed (modules may keep the pointer).
    nonisolated(unsafe) static let pointer: UnsafePointer<ISMHost> = {
        let table = UnsafeMutablePointer<ISMHost>.allocate(capacity: 1)
        table.initialize(to: ISMHost(
            abi_version: ISM_ABI_VERSION,
            enqueue: { controller, frame in ModuleCall.with(controller, otherwise: -1) { $0.enqueue(frame) } },
            replace_data: { controller, frame, size in ModuleCall.of(controller)?.replaceData(frame, size: size) },
            new_video_frame: { controller, format, width, height, timestamp, duration in
                ModuleCall.of(controller)?.newVideoFrame(format: format, width: width, height: height,
                                                         timestamp: timestamp, duration: duration)
            },
            post_message: { controller, message in ModuleCall.of(controller)?.postMessage(message) ?? -1 },
            generate_key_frame: { controller, rid in ModuleCall.of(controller)?.generateKeyFrame(rid: rid) ?? -1 },
            send_key_frame_request: { controller in ModuleCall.of(controller)?.sendKeyFrameRequest() ?? -1 },
            last_error: { controller in ModuleCall.of(controller)?.lastErrorText },
            log: { controller, level, text in ModuleCall.of(controller)?.log(level: level, text: text) }))
        return UnsafePointer(table)
    }()
}
