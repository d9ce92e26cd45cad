// An application that builds a pipeline and runs its OWN transform on every frame, the Swift
// spelling of the MDN example's worker:
//
//   readable.pipeThrough(new TransformStream({ transform })).pipeTo(generator.writable)
//
// Run: swift run custom-transform-example [frames]
import CGStreamer
import Glibc
import InsertableStreams

/// Draws a moving white scanline and counts the frames it saw: a transform with state,
/// running on the processor's worker thread.
final class Scanline: FrameTransformer {
    private var frames = 0
    var supportedVideoFormats: Set<VideoPixelFormat>? { [.rgba, .bgra, .rgbx, .bgrx] }

    func start(controller: TransformController) throws { print("transform started") }

    func transform(_ frame: MediaFrame, controller: TransformController) throws {
        guard case .video(let video) = frame else { return try controller.enqueue(frame) }
        try video.withMutablePlanes { planes in
            let row = frames % planes[0].rows
            (planes[0].data + row * planes[0].stride).initializeMemory(as: UInt8.self, repeating: 255, count: planes[0].rowBytes)
        }
        frames += 1
        try controller.enqueue(frame)
    }

    func flush(controller: TransformController) throws { print("transform flushed after \(frames) frames") }
}

let frameCount = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 90
gst_init(nil, nil)
InsertableStreams.registerElements()

var parseError: UnsafeMutablePointer<GError>?
guard let pipeline = gst_parse_launch("""
    videotestsrc num-buffers=\(frameCount) ! video/x-raw,width=320,height=240,framerate=30/1 ! videoconvert ! \
    trackprocessor name=processor trackgenerator name=generator ! fakesink name=out
    """, &parseError) else {
    print("could not build the pipeline: \(parseError.map { String(cString: $0.pointee.message) } ?? "?")")
    exit(1)
}
let bin = UnsafeMutableRawPointer(pipeline).assumingMemoryBound(to: GstBin.self)
let processorElement = gst_bin_get_by_name(bin, "processor")!
let generatorElement = gst_bin_get_by_name(bin, "generator")!

let processor = try TrackProcessor(element: processorElement)
let generator = try TrackGenerator(element: generatorElement)
processor.readable.pipeThrough(Scanline()).pipeTo(generator.writable)

gst_element_set_state(pipeline, GST_STATE_PLAYING)
let bus = gst_element_get_bus(pipeline)!
let mask = GstMessageType(rawValue: GST_MESSAGE_EOS.rawValue | GST_MESSAGE_ERROR.rawValue)
let message = gst_bus_timed_pop_filtered(bus, swift_clock_time_none(), mask)!
var status: Int32 = 0
if swift_message_type(message) == GST_MESSAGE_ERROR {
    var error: UnsafeMutablePointer<GError>?
    gst_message_parse_error(message, &error, nil)
    print("error: \(error.map { String(cString: $0.pointee.message) } ?? "?")")
    status = 1
} else {
    print("end of stream: \(processor.totalFrames) frames in, \(processor.discardedFrames) discarded")
}
gst_message_unref(message)
gst_object_unref(bus)
gst_element_set_state(pipeline, GST_STATE_NULL)
gst_object_unref(processorElement)
gst_object_unref(generatorElement)
gst_object_unref(pipeline)
exit(status)
