import CGStreamer
import CTransformModule
import EncodedStreams
import Glibc
import MediaStreams
import TransformModuleKit

/// A module's per-frame `transform` function (ISMTransform.transform).
typealias ISMTransformFunction = @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<ISMFrame>?,
                                                 UnsafeMutablePointer<ISMController>?, UnsafeMutablePointer<CChar>?, Int) -> Int32

/// One instance of a module transform (one `worker` step): made by the module's `create`,
/// released by its `destroy`, called through one `ModuleCall`.
final class ModuleInstance {
    let descriptor: ModuleTransformDescriptor
    let call: ModuleCall
    let instance: UnsafeMutableRawPointer
    private let table: ISMTransform
    var transformFunction: ISMTransformFunction { table.transform }

    init(_ descriptor: ModuleTransformDescriptor, parameters: TransformParameters, context: TransformContext) throws {
        self.descriptor = descriptor
        let table = descriptor.pointer.pointee
        self.table = table
        let call = ModuleCall(elementName: context.elementName, transformName: descriptor.name)
        self.call = call
        let values = parameters.allValues.sorted { $0.key < $1.key }
        let keys = values.map { strdup($0.key) }
        let texts = values.map { strdup($0.value) }
        defer { (keys + texts).forEach { free($0) } }
        let arguments = zip(keys, texts).map { ISMArgument(key: $0.map { UnsafePointer($0) }, value: $1.map { UnsafePointer($0) }) }
        call.errorBuffer[0] = 0
        let created = arguments.withUnsafeBufferPointer { buffer in
            table.create(descriptor.pointer, buffer.baseAddress, UInt32(buffer.count), call.errorBuffer, ModuleCall.errorCapacity)
        }
        guard let created else {
            let reason = String(cString: call.errorBuffer)
            throw TransformSpecError("transform '\(descriptor.name)' (\(descriptor.origin)) could not start: \(reason.isEmpty ? "its create function failed without giving a reason" : reason)")
        }
        instance = created
    }

    deinit { table.destroy(instance) }

    func transform(_ slot: FrameSlot) -> Int32 {
        table.transform(instance, slot.frame, call.controller, call.errorBuffer, ModuleCall.errorCapacity)
    }

    func flush() -> Int32 {
        table.flush?(instance, call.controller, call.errorBuffer, ModuleCall.errorCapacity) ?? 0
    }

    func receive(_ message: TransformMessage) throws -> Int32 {
        guard let handler = table.message else { return 0 }
        return ModuleMessage.withCMessage(message) { handler(instance, $0, call.controller, call.errorBuffer, ModuleCall.errorCapacity) }
    }
}

/// A module's raw transform as a `FrameTransformer`: each frame's planes are mapped writable
/// (copied only when shared) and handed to the module; what it enqueues goes on afterwards.
final class ModuleRawTransformer: FrameTransformer {
    private let module: ModuleInstance

    init(_ descriptor: ModuleTransformDescriptor, parameters: TransformParameters, context: TransformContext) throws {
        module = try ModuleInstance(descriptor, parameters: parameters, context: context)
    }

    var supportedVideoFormats: Set<VideoPixelFormat>? { module.descriptor.videoFormats }
    var supportedKinds: Set<TrackKind> { module.descriptor.kinds }

    func transform(_ frame: MediaFrame, controller: TransformController) throws {
        let call = module.call
        call.attach(controller)
        try call.perform {
            let slot = call.nextSlot()
            let described = slot.frame
            switch frame {
            case .video(let video):
                call.inputIsAudio = false
                call.inputTiming = (video.timestamp, video.timing)
                defer { call.inputTiming = nil }
                return try video.withMutablePlanes { planes in
                    described.pointee.kind = UInt32(ISM_FRAME_VIDEO.rawValue)
                    described.pointee.format = FormatNames.name(of: video.format)
                    described.pointee.width = Int32(video.codedWidth)
                    described.pointee.height = Int32(video.codedHeight)
                    described.pointee.timestamp_us = video.timing.pts == nil ? -1 : video.timestamp
                    described.pointee.duration_us = video.duration ?? -1
                    for (index, plane) in planes.enumerated() {
                        slot.planes[index] = ISMPlane(data: plane.data.assumingMemoryBound(to: UInt8.self), stride: Int32(plane.stride),
                                                      row_bytes: Int32(plane.rowBytes), rows: Int32(plane.rows))
                    }
                    described.pointee.n_planes = UInt32(planes.count)
                    described.pointee.planes = UnsafePointer(slot.planes)
                    return module.transform(slot)
                }
            case .audio(let audio):
                call.inputIsAudio = true
                return try audio.withMutablePlanes { planes in
                    guard planes.count <= FrameSlot.planeCapacity else {
                        throw ModuleTransformError("\(module.descriptor.name): audio with \(planes.count) planes; modules take at most \(FrameSlot.planeCapacity)")
                    }
                    described.pointee.kind = UInt32(ISM_FRAME_AUDIO.rawValue)
                    described.pointee.format = FormatNames.name(of: audio.format)
                    described.pointee.sample_rate = Int32(audio.sampleRate)
                    described.pointee.number_of_channels = Int32(audio.numberOfChannels)
                    described.pointee.number_of_frames = Int32(audio.numberOfFrames)
                    described.pointee.timestamp_us = audio.timing.pts == nil ? -1 : audio.timestamp
                    described.pointee.duration_us = audio.duration
                    for (index, plane) in planes.enumerated() {
                        slot.planes[index] = ISMPlane(data: plane.baseAddress?.assumingMemoryBound(to: UInt8.self), stride: Int32(plane.count),
                                                      row_bytes: Int32(plane.count), rows: 1)
                    }
                    described.pointee.n_planes = UInt32(planes.count)
                    described.pointee.planes = UnsafePointer(slot.planes)
                    return module.transform(slot)
                }
            }
        }
        try pass(call.outputs, input: frame, controller: controller)
    }

    func flush(controller: TransformController) throws {
        let call = module.call
        call.attach(controller)
        call.inputIsAudio = false
        try call.perform { module.flush() }
        try pass(call.outputs, input: nil, controller: controller)
    }

    func receive(message: TransformMessage, controller: TransformController) throws {
        let call = module.call
        call.attach(controller)
        call.inputIsAudio = false
        try call.perform { try module.receive(message) }
        try pass(call.outputs, input: nil, controller: controller)
    }

    /// The enqueued frames, in order: the input frame, or frames made by `new_video_frame`.
    private func pass(_ outputs: [FrameSlot], input: MediaFrame?, controller: TransformController) throws {
        for slot in outputs {
            if let made = slot.made {
                slot.made = nil
                try controller.enqueue(.video(made))
            } else if let input {
                try controller.enqueue(input)
            }
        }
    }
}

/// A module's encoded transform as an `EncodedFrameTransformer`: the bytes are mapped writable
/// and handed to the module with the frame's metadata; `replace_data` bytes replace the
/// frame's memory afterwards (no copy). Only the frame received can go on: an encoded
/// transform can neither duplicate nor reorder frames.
final class ModuleEncodedTransformer: EncodedFrameTransformer {
    private let module: ModuleInstance
    /// `module.call`.
    private let call: ModuleCall

    /// The module's `transform` and instance: called per frame without touching Swift objects.
    private let transformFunction: ISMTransformFunction
    private let instancePointer: UnsafeMutableRawPointer

    init(_ descriptor: ModuleTransformDescriptor, parameters: TransformParameters, context: TransformContext) throws {
        module = try ModuleInstance(descriptor, parameters: parameters, context: context)
        call = module.call
        transformFunction = module.transformFunction
        instancePointer = module.instance
    }

    var supportedCodecs: Set<EncodedCodec>? { module.descriptor.codecs }

    /// What stays the same for the element's whole stream, read once (each read is a cast of
    /// the controller's host): the side, and the rid as a C string.
    @exclusivity(unchecked) private var stream: (side: UInt32, rid: UnsafeMutablePointer<CChar>?)?

    deinit { free(stream?.rid) }

    func transform(_ frame: EncodedFrame, controller: EncodedTransformController) throws {
        call.attach(controller)
        let stream = self.stream ?? describeStream(controller)
        call.beginSingleFrameCall()
        let status: Int32
        do {
            status = try describe(frame, stream: stream, into: call.firstSlot.frame)
        } catch {
            call.abandonCall()
            throw error
        }
        try call.endSingleFrameCall(status: status)
        guard call.firstSlot.enqueued else { return }  // the module dropped it
        if let replacement = call.firstSlot.takeReplacement() {
            guard let buffer = frame.buffer.makeWritable(),
                  let memory = gst_memory_new_wrapped(GstMemoryFlags(rawValue: 0), replacement.bytes, gsize(replacement.size), 0,
                                                      gsize(replacement.size), replacement.bytes, { free($0) }) else {
                free(replacement.bytes)
                throw ModuleTransformError("\(module.descriptor.name): the frame's new bytes could not be attached")
            }
            gst_buffer_replace_all_memory(buffer, memory)
        }
        try controller.enqueue(frame)
    }

    private func describeStream(_ controller: EncodedTransformController) -> (side: UInt32, rid: UnsafeMutablePointer<CChar>?) {
        let found = (side: UInt32(controller.side == .receive ? ISM_SIDE_RECEIVE.rawValue : ISM_SIDE_SEND.rawValue),
                     rid: controller.rid.flatMap { strdup($0) })
        stream = found
        return found
    }

    /// Fills the module's view of `frame` (metadata, and its bytes mapped writable) and calls
    /// the module's transform while the bytes are mapped.
    private func describe(_ frame: EncodedFrame, stream: (side: UInt32, rid: UnsafeMutablePointer<CChar>?),
                          into described: UnsafeMutablePointer<ISMFrame>) throws -> Int32 {
        let function = transformFunction, instance = instancePointer
        let controller = self.call.controller, errors = self.call.errorBuffer
        func callModule() -> Int32 { function(instance, described, controller, errors, ModuleCall.errorCapacity) }
        described.pointee.format = FormatNames.name(of: frame.codec)
        described.pointee.timestamp_us = frame.timestamp ?? -1
        described.pointee.side = stream.side
        described.pointee.rid = UnsafePointer(stream.rid)
        // Audio frames (most of the frames, and the smallest) need no cast.
        if frame.codec.kind == .video, let video = frame as? EncodedVideoFrame {
            described.pointee.kind = UInt32(ISM_FRAME_ENCODED_VIDEO.rawValue)
            let type: ISMEncodedType = switch video.type {
            case .key: ISM_ENCODED_KEY
            case .delta: ISM_ENCODED_DELTA
            case .empty: ISM_ENCODED_EMPTY
            }
            described.pointee.type = UInt32(type.rawValue)
            if let size = video.capsSize {
                described.pointee.width = Int32(size.width)
                described.pointee.height = Int32(size.height)
            }
        } else {
            described.pointee.kind = UInt32(ISM_FRAME_ENCODED_AUDIO.rawValue)
        }
        described.pointee.ssrc = frame.streamInfo.synchronizationSource.map(Int64.init) ?? -1
        described.pointee.payload_type = frame.streamInfo.payloadType.map(Int32.init) ?? -1
        described.pointee.rtp_timestamp = frame.streamInfo.rtpTimestamp.map(Int64.init) ?? -1
        described.pointee.sequence_number = frame.streamInfo.sequenceNumber.map(Int32.init) ?? -1
        return try frame.withUnsafeMutableBytes { bytes in
            described.pointee.data = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
            described.pointee.size = bytes.count
            guard !frame.streamInfo.contributingSources.isEmpty else { return callModule() }
            return frame.streamInfo.contributingSources.withUnsafeBufferPointer { csrcs in
                described.pointee.n_csrcs = UInt32(csrcs.count)
                described.pointee.csrcs = csrcs.baseAddress
                return callModule()
            }
        }
    }

    func flush(controller: EncodedTransformController) throws {
        let call = module.call
        call.attach(controller)
        try call.perform { module.flush() }
    }

    func receive(message: TransformMessage, controller: EncodedTransformController) throws {
        let call = module.call
        call.attach(controller)
        try call.perform { try module.receive(message) }
    }
}
