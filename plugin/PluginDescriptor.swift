import CGStreamer
import InsertableStreams

// The only symbol the shared object exports (see exports.map). GStreamer derives its name from
// the file name libgstinsertablestreams.so and keeps the returned pointer, so the descriptor
// and its strings are static.

// Written once (lazily, thread-safely) and only read afterwards.
nonisolated(unsafe) private let pluginDescriptor: UnsafeMutablePointer<GstPluginDesc> = {
    func text(_ string: StaticString) -> UnsafePointer<CChar> {
        UnsafeRawPointer(string.utf8Start).assumingMemoryBound(to: CChar.self)
    }
    let descriptor = UnsafeMutablePointer<GstPluginDesc>.allocate(capacity: 1)
    descriptor.initialize(to: GstPluginDesc(
        major_version: 1,
        minor_version: 22,
        name: text("insertablestreams"),
        description: text("Insertable Streams and WebRTC Encoded Transforms for GStreamer: Swift transforms on every raw frame (trackprocessor, trackgenerator) and every encoded frame (rtpscripttransform), and an RTP VP8 payloader for encrypted frames (rtpvp8e2eepay)"),
        plugin_init: { plugin in InsertableStreams.registerElements(plugin: plugin) ? 1 : 0 },
        version: text("0.1.0"),
        license: text("MIT/X11"),
        source: text("gst-insertable-streams"),
        package: text("gst-insertable-streams"),
        origin: text("https://github.com/gst-insertable-streams"),
        release_datetime: nil,
        _gst_reserved: (nil, nil, nil, nil)))
    return descriptor
}()

@_cdecl("gst_plugin_insertablestreams_get_desc")
public func gstPluginInsertableStreamsGetDesc() -> UnsafePointer<GstPluginDesc> {
    UnsafePointer(pluginDescriptor)
}
