import CGStreamer
import InsertableStreams

/// A transform of the application's own: paints the left quarter of each RGBA frame red.
final class RedBar: FrameTransformer {
    var supportedVideoFormats: Set<VideoPixelFormat>? { [.rgba] }
    func transform(_ frame: MediaFrame, controller: TransformController) throws {
        if case .video(let video) = frame {
            try video.withMutablePlanes { planes in
                let plane = planes[0]
                for row in 0..<plane.rows {
                    let pixels = (plane.data + row * plane.stride).assumingMemoryBound(to: UInt8.self)
                    for x in 0..<video.codedWidth / 4 {
                        pixels[x * 4] = 255; pixels[x * 4 + 1] = 0; pixels[x * 4 + 2] = 0
                    }
                }
            }
        }
        try controller.enqueue(frame)
    }
}

gst_init(nil, nil)
InsertableStreams.registerElements()
TransformRegistry.register(TransformDescriptor(name: "red-bar", summary: "paints the left quarter red") { _, _ in RedBar() })

let description = """
    videotestsrc num-buffers=20 pattern=white ! video/x-raw,format=RGBA,width=64,height=48,framerate=30/1 ! \
    trackprocessor worker="red-bar ! mirror" pipe-to=out max-buffer-size=20 sync=false \
    trackgenerator name=out ! fakesink name=sink signal-handoffs=true sync=false
    """
var error: UnsafeMutablePointer<GError>?
guard let pipeline = gst_parse_launch(description, &error) else {
    fatalError("parse: \(error.map { String(cString: $0.pointee.message) } ?? "?")")
}
// Count frames and check one pixel on each side: mirrored, the red bar is on the right.
final class Counts: @unchecked Sendable { var frames = 0; var good = 0 }
let counts = Counts()
let sink = gst_bin_get_by_name(UnsafeMutableRawPointer(pipeline).assumingMemoryBound(to: GstBin.self), "sink")!
/// fakesink's handoff, on the streaming thread (so not in the main actor's top-level code).
enum Handoff {
    static let callback: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<GstBuffer>?, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void = { _, buffer, _, data in
        let counts = Unmanaged<Counts>.fromOpaque(data!).takeUnretainedValue()
        var left = [UInt8](repeating: 0, count: 4), right = [UInt8](repeating: 0, count: 4)
        _ = left.withUnsafeMutableBytes { gst_buffer_extract(buffer, 0, $0.baseAddress, 4) }
        _ = right.withUnsafeMutableBytes { gst_buffer_extract(buffer, 63 * 4, $0.baseAddress, 4) }
        counts.frames += 1
        if left[0...2] == [255, 255, 255] && right[0...2] == [255, 0, 0] { counts.good += 1 }
    }
}
g_signal_connect_data(UnsafeMutableRawPointer(sink), "handoff", unsafeBitCast(Handoff.callback, to: GCallback.self),
                      Unmanaged.passUnretained(counts).toOpaque(), nil, GConnectFlags(rawValue: 0))
gst_element_set_state(pipeline, GST_STATE_PLAYING)
let bus = gst_element_get_bus(pipeline)!
let mask = GstMessageType(rawValue: GST_MESSAGE_EOS.rawValue | GST_MESSAGE_ERROR.rawValue)
let message = gst_bus_timed_pop_filtered(bus, 20 * 1_000_000_000, mask)
let ended = message.map { $0.pointee.type == GST_MESSAGE_EOS } ?? false
gst_element_set_state(pipeline, GST_STATE_NULL)
print("dependent-app: \(counts.frames) frames, \(counts.good) with the red bar mirrored to the right, \(ended ? "EOS" : "no EOS")")
exit(ended && counts.frames == 20 && counts.good == 20 ? 0 : 1)
