import CGStreamer
import Synchronization

/// GstBufferPools for frames that transforms rewrite out of place, one per frame layout, so a
/// new 1080p buffer costs no allocation or page faults once the pool is warm. A few recent
/// layouts are kept; the least recently used pool is deactivated when another is needed
/// (buffers still out keep their pool alive until they come back).
enum PixelBufferPools {
    private struct Entry: @unchecked Sendable {
        let key: [Int32]
        let pool: UnsafeMutablePointer<GstBufferPool>
    }
    private static let pools = Mutex<[Entry]>([])
    private static let limit = 4

    /// A buffer laid out as `info` describes (default strides), or nil if no pool could be made.
    static func acquire(_ info: GstVideoInfo) -> UnsafeMutablePointer<GstBuffer>? {
        var info = info
        let key = [Int32(swift_video_info_format(&info).rawValue), info.width, info.height]
        let found: Entry? = pools.withLock { entries in
            if let index = entries.firstIndex(where: { $0.key == key }) {
                let entry = entries.remove(at: index)
                entries.append(entry)
                gst_object_ref(entry.pool)
                return entry
            }
            guard let made = makePool(&info) else { return nil }
            entries.append(Entry(key: key, pool: made))
            if entries.count > limit {
                let evicted = entries.removeFirst()
                _ = gst_buffer_pool_set_active(evicted.pool, 0)
                gst_object_unref(evicted.pool)
            }
            gst_object_ref(made)
            return Entry(key: key, pool: made)
        }
        guard let pool = found?.pool else { return nil }
        defer { gst_object_unref(pool) }
        var buffer: UnsafeMutablePointer<GstBuffer>?
        guard gst_buffer_pool_acquire_buffer(pool, &buffer, nil) == GST_FLOW_OK else { return nil }
        return buffer
    }

    private static func makePool(_ info: inout GstVideoInfo) -> UnsafeMutablePointer<GstBufferPool>? {
        guard let caps = gst_video_info_to_caps(&info), let pool = gst_video_buffer_pool_new() else { return nil }
        defer { gst_caps_unref(caps) }
        let config = gst_buffer_pool_get_config(pool)
        gst_buffer_pool_config_set_params(config, caps, guint(info.size), 0, 0)
        guard gst_buffer_pool_set_config(pool, config) != 0, gst_buffer_pool_set_active(pool, 1) != 0 else {
            gst_object_unref(pool)
            return nil
        }
        return pool
    }
}
