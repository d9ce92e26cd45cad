import Glibc

/// Happens-before edges that ThreadSanitizer cannot see by itself, declared where this package
/// hands work to GLib: `gst_task_start` / `gst_pad_start_task` wake a GThreadPool thread through
/// a GAsyncQueue, and `gst_task_join` / `gst_pad_stop_task` wait for it on the task's GCond.
/// GLib's GMutex and GCond are futexes on Linux, not pthread calls, so an uninstrumented GLib
/// gives ThreadSanitizer no edge, and it reports every write made before a task started (or
/// after it stopped) as racing with the task's accesses. The edges are real (GLib's mutex); these
/// calls only tell the sanitizer about them.
///
/// Outside a ThreadSanitizer build the hooks are absent and each call is a nil check.
public enum ThreadSanitizerEdges {
    private typealias Hook = @convention(c) (UnsafeMutableRawPointer?) -> Void
    private struct Hooks: @unchecked Sendable {
        let acquire: Hook?
        let release: Hook?
    }

    /// `__tsan_acquire` / `__tsan_release`, exported by the sanitizer runtime when it is linked in.
    private static let hooks: Hooks = {
        func find(_ name: String) -> Hook? { dlsym(nil, name).map { unsafeBitCast($0, to: Hook.self) } }
        return Hooks(acquire: find("__tsan_acquire"), release: find("__tsan_release"))
    }()

    /// Everything this thread did so far happens before what follows an `acquire(address)`.
    @inline(__always)
    public static func release(_ address: UnsafeMutableRawPointer) { hooks.release?(address) }

    /// What preceded the last `release(address)` of any thread happens before what follows.
    @inline(__always)
    public static func acquire(_ address: UnsafeMutableRawPointer) { hooks.acquire?(address) }
}
