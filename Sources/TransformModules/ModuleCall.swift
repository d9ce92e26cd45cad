import CGStreamer
import CTransformModule
import EncodedStreams
import GStreamerBridge
import Glibc
import MediaStreams
import TransformModuleKit

/// One frame of a call into a module: the `ISMFrame` (and planes) the module sees, reused from
/// call to call, and what the call did with it.
final class FrameSlot {
    static let planeCapacity = 64  // audio: one plane per channel, at most 64 channels

    let index: Int
    let frame: UnsafeMutablePointer<ISMFrame>
    let planes: UnsafeMutablePointer<ISMPlane>
    // The slots and the call are used by the worker thread only, one call at a time, and each
    // frame passes through several of these properties: @exclusivity(unchecked) spares every
    // access a dynamic exclusivity check (a third of the module call's cost per frame before).
    @exclusivity(unchecked) var enqueued = false
    /// A frame `new_video_frame` made in this call, mapped until the call returns.
    @exclusivity(unchecked) var made: VideoFrame?
    @exclusivity(unchecked) private var mappedBuffer: UnsafeMutablePointer<GstBuffer>?
    @exclusivity(unchecked) private var mapping = GstMapInfo()
    /// Encoded: new bytes from `replace_data` (malloc'd), handed to the frame after the call;
    /// earlier replacements of the same call stay readable until then.
    @exclusivity(unchecked) var replacement: UnsafeMutableRawPointer?
    @exclusivity(unchecked) var replacementSize = 0
    @exclusivity(unchecked) private var superseded: [UnsafeMutableRawPointer] = []

    init(index: Int) {
        self.index = index
        frame = .allocate(capacity: 1)
        frame.initialize(to: ISMFrame())
        planes = .allocate(capacity: Self.planeCapacity)
        planes.initialize(repeating: ISMPlane(), count: Self.planeCapacity)
    }

    deinit {
        finish(keepReplacement: false)
        frame.deallocate()
        planes.deallocate()
    }

    func reset() {
        frame.pointee = ISMFrame()
        frame.pointee.host_data = UnsafeMutableRawPointer(bitPattern: index + 1)
        frame.pointee.timestamp_us = -1
        frame.pointee.duration_us = -1
        frame.pointee.ssrc = -1
        frame.pointee.payload_type = -1
        frame.pointee.rtp_timestamp = -1
        frame.pointee.sequence_number = -1
        enqueued = false
    }

    func map(made frame: VideoFrame) -> Bool {
        guard let buffer = frame.buffer.pointer, gst_buffer_map(buffer, &mapping, swift_map_readwrite()) != 0 else { return false }
        made = frame
        mappedBuffer = buffer
        return true
    }

    func replace(size: Int) -> UnsafeMutableRawPointer? {
        guard let memory = malloc(max(1, size)) else { return nil }
        if let replacement { superseded.append(replacement) }
        replacement = memory
        replacementSize = size
        return memory
    }

    var mappedData: UnsafeMutablePointer<guint8>? { mapping.data }

    /// Ends the call for this slot: unmaps a made frame, frees superseded bytes (and the
    /// replacement unless the frame takes it).
    func finish(keepReplacement: Bool) {
        if let buffer = mappedBuffer {
            gst_buffer_unmap(buffer, &mapping)
            mappedBuffer = nil
        }
        if !superseded.isEmpty {
            superseded.forEach { free($0) }
            superseded.removeAll()
        }
        if !keepReplacement, let replacement {
            free(replacement)
            self.replacement = nil
            replacementSize = 0
        }
    }

    /// `replace_data` was called in this call (bytes to hand over or free).
    var hasReplacements: Bool { replacement != nil || !superseded.isEmpty }

    /// The bytes `replace_data` gave the frame (malloc'd; the caller owns them now).
    func takeReplacement() -> (bytes: UnsafeMutableRawPointer, size: Int)? {
        guard let replacement else { return nil }
        defer { self.replacement = nil; replacementSize = 0 }
        return (replacement, replacementSize)
    }
}

/// What `ISMController.host_data` points to: the state of one transform instance's calls into
/// its module, and the plugin's side of every `ISMHost` function. Used on the worker thread only.
final class ModuleCall {
    let controller: UnsafeMutablePointer<ISMController>
    static let errorCapacity = 1024
    let errorBuffer: UnsafeMutablePointer<CChar>
    @exclusivity(unchecked) private var lastError: UnsafeMutablePointer<CChar>?
    @exclusivity(unchecked) private var slots: [FrameSlot] = []
    @exclusivity(unchecked) private var usedSlots = 0
    @exclusivity(unchecked) private(set) var outputs: [FrameSlot] = []
    @exclusivity(unchecked) private var inCall = false
    let elementName: String
    let transformName: String

    /// The transformer's controller (one of them), kept from the first call on: a transformer
    /// has one controller for its life (no reference counting per frame).
    @exclusivity(unchecked) private(set) var rawController: TransformController?
    @exclusivity(unchecked) private(set) var encodedController: EncodedTransformController?

    func attach(_ controller: TransformController) {
        if rawController !== controller { rawController = controller }
    }

    /// Which encoded controller is attached, compared without a reference count per frame.
    @exclusivity(unchecked) private var attachedEncoded: UnsafeMutableRawPointer?

    func attach(_ controller: EncodedTransformController) {
        let identity = Unmanaged.passUnretained(controller).toOpaque()
        guard attachedEncoded != identity else { return }
        attachedEncoded = identity
        encodedController = controller
    }
    /// The current call's input is audio (no new video frames then).
    @exclusivity(unchecked) var inputIsAudio = false
    /// The current call's input video frame's timing: new frames with its timestamp take all of
    /// it (the generator places them on the clock as it would the input).
    @exclusivity(unchecked) var inputTiming: (timestamp: Int64, timing: FrameTiming)?

    init(elementName: String, transformName: String) {
        self.elementName = elementName
        self.transformName = transformName
        controller = .allocate(capacity: 1)
        errorBuffer = .allocate(capacity: Self.errorCapacity)
        controller.initialize(to: ISMController(host: ModuleHostTable.pointer, host_data: nil))
        let first = FrameSlot(index: 0)
        firstSlot = first
        slots = [first]
        controller.pointee.host_data = Unmanaged.passUnretained(self).toOpaque()
    }

    /// `slots[0]`: the input of an encoded call.
    let firstSlot: FrameSlot

    deinit {
        slots.removeAll()
        free(lastError)
        controller.deallocate()
        errorBuffer.deallocate()
    }

    static func of(_ controller: UnsafeMutablePointer<ISMController>?) -> ModuleCall? {
        guard let data = controller?.pointee.host_data else { return nil }
        return Unmanaged<ModuleCall>.fromOpaque(data).takeUnretainedValue()
    }

    /// `body` with the call of `controller` (the instance it belongs to keeps the call alive
    /// during the module's call: no reference count per host function call), or `otherwise`.
    @inline(__always)
    static func with<R>(_ controller: UnsafeMutablePointer<ISMController>?, otherwise: R, _ body: (ModuleCall) -> R) -> R {
        guard let data = controller?.pointee.host_data else { return otherwise }
        return Unmanaged<ModuleCall>.fromOpaque(data)._withUnsafeGuaranteedRef(body)
    }

    func fail(_ text: String) {
        free(lastError)
        lastError = strdup(text)
    }

    var lastErrorText: UnsafePointer<CChar>? { lastError.map { UnsafePointer($0) } }

    /// A fresh slot for this call.
    func nextSlot() -> FrameSlot {
        if usedSlots == slots.count { slots.append(FrameSlot(index: slots.count)) }
        let slot = slots[usedSlots]
        usedSlots += 1
        slot.reset()
        return slot
    }

    /// The slot `frame` belongs to, when it is one of this call's frames.
    func slot(of frame: UnsafeMutablePointer<ISMFrame>?) -> FrameSlot? {
        guard inCall, let frame, let bits = frame.pointee.host_data else { return nil }
        let index = Int(bitPattern: bits) - 1
        guard index >= 0, index < usedSlots, slots[index].frame == frame else { return nil }
        return slots[index]
    }

    /// An encoded `transform` call: one frame (`firstSlot`, reset here), no outputs list (its
    /// flag says whether it goes on). `endSingleFrameCall` ends it.
    func beginSingleFrameCall() {
        errorBuffer[0] = 0
        inCall = true
        usedSlots = 1
        firstSlot.reset()
    }

    /// Ends the call begun by `beginSingleFrameCall`; throws the module's reason when `status`
    /// says it failed (the frame is then dropped). An encoded call makes no frames and maps
    /// nothing of its own: only `replace_data`'s bytes may need freeing (or keeping, for the
    /// frame that goes on).
    func endSingleFrameCall(status: Int32) throws {
        inCall = false
        let slot = firstSlot
        if slot.hasReplacements { slot.finish(keepReplacement: status == 0 && slot.enqueued && slot.replacement != nil) }
        guard status == 0 else { throw failure() }
    }

    /// Ends a call that failed before or outside the module (its error is thrown instead).
    func abandonCall() { end(success: false) }

    /// Runs one call: `body` fills slots and calls the module, returning its status. Afterwards
    /// `outputs` holds the frames enqueued, in order; throws the module's reason when it failed
    /// (nothing goes on then).
    func perform(_ body: () throws -> Int32) throws {
        usedSlots = 0
        if !outputs.isEmpty { outputs.removeAll(keepingCapacity: true) }
        errorBuffer[0] = 0
        inCall = true
        let status: Int32
        do {
            status = try body()
        } catch {
            end(success: false)
            throw error
        }
        guard status == 0 else {
            end(success: false)
            throw failure()
        }
        end(success: true)
    }

    private func failure() -> ModuleTransformError {
        let reason = String(cString: errorBuffer)
        return ModuleTransformError("\(transformName) (\(elementName)): \(reason.isEmpty ? "the module transform failed without giving a reason" : reason)")
    }

    private func end(success: Bool) {
        inCall = false
        // An encoded frame going on takes its replacement bytes (the caller applies them).
        firstSlot.finish(keepReplacement: success && firstSlot.enqueued && firstSlot.replacement != nil)
        if !success { firstSlot.made = nil }
        for index in 1..<max(1, usedSlots) {
            let slot = slots[index]
            slot.finish(keepReplacement: success && slot.enqueued && slot.replacement != nil)
            if !success { slot.made = nil }
        }
        if !success { outputs.removeAll() }
    }

    // MARK: ISMHost functions (worker thread, during a call)

    func enqueue(_ frame: UnsafeMutablePointer<ISMFrame>?) -> Int32 {
        guard let slot = slot(of: frame) else {
            fail(inCall ? "enqueue: the frame is not one of this call's (a frame is valid only during the call that received or made it)"
                        : "enqueue: called outside a call of the transform (the controller is valid only during a call)")
            return -1
        }
        guard !slot.enqueued else {
            fail("enqueue: the frame was enqueued already; each frame goes on once (make another with new_video_frame to send two)")
            return -1
        }
        slot.enqueued = true
        // An encoded call's one output is its input slot's flag (no list per frame).
        if encodedController == nil { outputs.append(slot) }
        return 0
    }

    func replaceData(_ frame: UnsafeMutablePointer<ISMFrame>?, size: Int) -> UnsafeMutablePointer<UInt8>? {
        guard encodedController != nil, inCall else { fail("replace_data is for encoded frames; raw frames are rewritten in place or made with new_video_frame"); return nil }
        guard let slot = slot(of: frame) else { fail("replace_data: the frame is not one of this call's"); return nil }
        guard size <= 1 << 30 else { fail("replace_data: \(size) bytes is more than an encoded frame can have (1 GiB)"); return nil }
        guard let memory = slot.replace(size: size) else { fail("replace_data: could not allocate \(size) bytes"); return nil }
        let bytes = memory.assumingMemoryBound(to: UInt8.self)
        slot.frame.pointee.data = bytes
        slot.frame.pointee.size = size
        return bytes
    }

    func newVideoFrame(format: UnsafePointer<CChar>?, width: Int32, height: Int32, timestamp: Int64, duration: Int64) -> UnsafeMutablePointer<ISMFrame>? {
        guard inCall else { fail("new_video_frame: called outside a call of the transform"); return nil }
        guard rawController != nil, !inputIsAudio else {
            fail("new_video_frame is for raw video transforms (this transform runs on \(rawController == nil ? "encoded frames" : "an audio track"))")
            return nil
        }
        let name = format.map { String(cString: $0) } ?? "(null)"
        guard let pixelFormat = VideoPixelFormat(rawValue: name) else {
            fail("new_video_frame: format '\(name)' is not one of \(VideoPixelFormat.allCases.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        var made: VideoFrame
        do {
            made = try VideoFrame(format: pixelFormat, width: Int(width), height: Int(height), timestamp: timestamp,
                                  duration: duration >= 0 ? duration : nil)
        } catch {
            fail("new_video_frame: \(error)")
            return nil
        }
        if let input = inputTiming, input.timestamp == timestamp, let buffer = made.buffer.take() {
            var timing = input.timing
            if duration >= 0 { timing.duration = UInt64(duration) * 1000 }
            made = VideoFrame(buffer: buffer, info: made.videoInfo, format: pixelFormat, timing: timing)
        }
        let slot = nextSlot()
        guard slot.map(made: made), let base = slot.mappedData else {
            usedSlots -= 1
            fail("new_video_frame: could not map the new \(name) \(width)x\(height) frame")
            return nil
        }
        let info = made.videoInfo
        withUnsafeBytes(of: info.offset) { offsets in
            withUnsafeBytes(of: info.stride) { strides in
                for index in 0..<pixelFormat.planes.count {
                    let size = made.planeSize(index)
                    slot.planes[index] = ISMPlane(data: base + offsets.load(fromByteOffset: index * MemoryLayout<gsize>.stride, as: gsize.self).asInt,
                                                  stride: strides.load(fromByteOffset: index * MemoryLayout<gint>.stride, as: gint.self),
                                                  row_bytes: Int32(size.rowBytes), rows: Int32(size.rows))
                }
            }
        }
        slot.frame.pointee.kind = UInt32(ISM_FRAME_VIDEO.rawValue)
        slot.frame.pointee.format = FormatNames.name(of: pixelFormat)
        slot.frame.pointee.width = width
        slot.frame.pointee.height = height
        slot.frame.pointee.timestamp_us = made.timestamp >= 0 && timestamp >= 0 ? made.timestamp : -1
        slot.frame.pointee.duration_us = made.duration ?? -1
        slot.frame.pointee.n_planes = UInt32(pixelFormat.planes.count)
        slot.frame.pointee.planes = UnsafePointer(slot.planes)
        return slot.frame
    }

    func postMessage(_ message: UnsafePointer<ISMMessage>?) -> Int32 {
        guard let message else { fail("post_message: the message is NULL"); return -1 }
        guard let converted = ModuleMessage.message(from: message) else {
            fail("post_message: a field has a type outside ISMValueType (1 string ... 6 bytes)")
            return -1
        }
        guard inCall else {
            fail("post_message: called outside a call of the transform")
            return -1
        }
        if let rawController {
            rawController.postMessage(converted)
        } else if let encodedController {
            encodedController.postMessage(converted)
        } else {
            fail("post_message: called outside a call of the transform")
            return -1
        }
        return 0
    }

    func generateKeyFrame(rid: UnsafePointer<CChar>?) -> Int32 {
        guard inCall, let encodedController else { fail("generate_key_frame is for encoded transforms (rtpscripttransform)"); return -1 }
        do {
            try encodedController.generateKeyFrame(rid: rid.map { String(cString: $0) })
            return 0
        } catch {
            fail("generate_key_frame: \(error)")
            return -1
        }
    }

    func sendKeyFrameRequest() -> Int32 {
        guard inCall, let encodedController else { fail("send_key_frame_request is for encoded transforms (rtpscripttransform)"); return -1 }
        do {
            try encodedController.sendKeyFrameRequest()
            return 0
        } catch {
            fail("send_key_frame_request: \(error)")
            return -1
        }
    }

    func log(level: Int32, text: UnsafePointer<CChar>?) {
        let level = GstDebugLevel(rawValue: UInt32(min(max(level, 1), 7)))
        guard TransformModules.category.isEnabled(level) else { return }
        TransformModules.category.log(level, "\(elementName) \(transformName): \(text.map { String(cString: $0) } ?? "")")
    }
}

extension gsize {
    fileprivate var asInt: Int { Int(self) }
}

/// A module transform's call failed; the text is the module's reason.
struct ModuleTransformError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The C names of formats, NUL-terminated in the binary (no allocation per frame).
enum FormatNames {
    static func name(of format: VideoPixelFormat) -> UnsafePointer<CChar> {
        switch format {
        case .i420: c("I420")
        case .i422: c("I422")
        case .i444: c("I444")
        case .nv12: c("NV12")
        case .rgba: c("RGBA")
        case .rgbx: c("RGBX")
        case .bgra: c("BGRA")
        case .bgrx: c("BGRX")
        }
    }

    static func name(of format: AudioSampleFormat) -> UnsafePointer<CChar> {
        switch format {
        case .s16: c("s16")
        case .s16Planar: c("s16-planar")
        case .f32: c("f32")
        case .f32Planar: c("f32-planar")
        }
    }

    static func name(of codec: EncodedCodec) -> UnsafePointer<CChar> {
        switch codec {
        case .vp8: c("video/VP8")
        case .vp9: c("video/VP9")
        case .h264: c("video/H264")
        case .h265: c("video/H265")
        case .av1: c("video/AV1")
        case .opus: c("audio/opus")
        case .pcmu: c("audio/PCMU")
        case .pcma: c("audio/PCMA")
        case .g722: c("audio/G722")
        }
    }

    private static func c(_ text: StaticString) -> UnsafePointer<CChar> {
        UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
    }
}
