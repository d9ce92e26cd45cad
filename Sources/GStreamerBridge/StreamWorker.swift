import CGStreamer
import Synchronization

/// An element's worker thread: a GstTask running `iterate` in a loop, started, paused and
/// stopped the way GStreamer's own elements drive their pad tasks (livesync, queue).
///
/// - `StreamWorker(pad:)` is the src pad's task: it holds the pad's stream lock while it
///   iterates, so it is serialised with flushes and with pad deactivation.
/// - `StreamWorker(name:)` is a task of the element's own (a sink has no src pad to run it on,
///   and its sink pad's stream lock belongs to upstream's chain calls).
///
/// The body blocks in its queue rather than spinning, and pauses itself (`pause()` from inside
/// `iterate`) when the queue flushes; `start()` resumes it. `stop()` joins the thread: the
/// queue must have been shut down or set flushing first so that `iterate` returns. A pause from
/// inside never overrides a concurrent stop (both go through one lock).
public final class StreamWorker: Sendable {
    private final class Body: Sendable {
        let iterate: @Sendable () -> Void
        init(_ iterate: @escaping @Sendable () -> Void) { self.iterate = iterate }

        /// One iteration on the task's thread, from the task function's user data. The
        /// sanitizer edges stand for GLib's thread-pool hand-off (see ThreadSanitizerEdges).
        static func run(_ data: UnsafeMutableRawPointer?) {
            ThreadSanitizerEdges.acquire(data!)
            // The task holds the body for as long as it runs (no reference count per iteration).
            Unmanaged<Body>.fromOpaque(data!)._withUnsafeGuaranteedRef { $0.iterate() }
            ThreadSanitizerEdges.release(data!)
        }
    }

    private struct OwnTask: @unchecked Sendable {
        let task: UnsafeMutablePointer<GstTask>
        let lock: UnsafeMutablePointer<GRecMutex>
    }

    private struct PadRef: @unchecked Sendable { let pad: UnsafeMutablePointer<GstPad> }

    private enum Backing: Sendable {
        case pad(PadRef)
        case own(OwnTask)
    }

    private let backing: Backing
    private let body: Body
    /// Own task only: true once `stop()` began, so that a pause from inside is ignored.
    private let stopped = Mutex<Bool>(true)

    /// The src pad's task runs `iterate`. The pad must stay alive as long as this worker.
    public init(pad: UnsafeMutablePointer<GstPad>, iterate: @escaping @Sendable () -> Void) {
        body = Body(iterate)
        backing = .pad(PadRef(pad: pad))
    }

    /// A task of its own, named `name` (GStreamer names the thread after it).
    public init(name: String, iterate: @escaping @Sendable () -> Void) {
        let body = Body(iterate)
        self.body = body
        let task = gst_task_new({ data in Body.run(data) }, Unmanaged.passRetained(body).toOpaque(), { data in
            Unmanaged<Body>.fromOpaque(data!).release()
        })!
        let lock = UnsafeMutablePointer<GRecMutex>.allocate(capacity: 1)
        lock.initialize(to: GRecMutex())
        g_rec_mutex_init(lock)
        gst_task_set_lock(task, lock)
        UnsafeMutableRawPointer(task).withMemoryRebound(to: GstObject.self, capacity: 1) {
            _ = gst_object_set_name($0, name)
        }
        backing = .own(OwnTask(task: task, lock: lock))
    }

    deinit {
        guard case .own(let own) = backing else { return }
        stop()
        gst_object_unref(own.task)
        g_rec_mutex_clear(own.lock)
        own.lock.deallocate()
    }

    /// Starts the loop, or resumes it after a pause.
    @discardableResult
    public func start() -> Bool {
        ThreadSanitizerEdges.release(Unmanaged.passUnretained(body).toOpaque())
        switch backing {
        case .pad(let ref):
            // gst_pad_start_task resumes the pad's existing (paused) task as it is and drops the
            // user data and notify given again: retain the body only for a task made now (a
            // retain per resume leaked one body per flush; AddressSanitizer's leak check found it).
            // The worker keeps `body` too, so a task made in between is safe either way.
            let padObject = UnsafeMutableRawPointer(ref.pad).assumingMemoryBound(to: GstObject.self)
            swift_object_lock(padObject)
            let resumes = ref.pad.pointee.task != nil
            swift_object_unlock(padObject)
            if resumes {
                return gst_pad_start_task(ref.pad, { data in Body.run(data) }, Unmanaged.passUnretained(body).toOpaque(), nil) != 0
            }
            return gst_pad_start_task(ref.pad, { data in Body.run(data) }, Unmanaged.passRetained(body).toOpaque(), { data in
                Unmanaged<Body>.fromOpaque(data!).release()
            }) != 0
        case .own(let own):
            return stopped.withLock { stopped in
                stopped = false
                return gst_task_start(own.task) != 0
            }
        }
    }

    /// Pauses the loop after the current iteration; callable from inside `iterate`.
    @discardableResult
    public func pause() -> Bool {
        switch backing {
        case .pad(let ref):
            return gst_pad_pause_task(ref.pad) != 0
        case .own(let own):
            return stopped.withLock { stopped in stopped ? false : gst_task_pause(own.task) != 0 }
        }
    }

    /// Stops the loop and waits for the thread. Never call it from `iterate`; unblock the body
    /// first (shut down or flush its queue).
    @discardableResult
    public func stop() -> Bool {
        defer { ThreadSanitizerEdges.acquire(Unmanaged.passUnretained(body).toOpaque()) }
        switch backing {
        case .pad(let ref):
            return gst_pad_stop_task(ref.pad) != 0
        case .own(let own):
            stopped.withLock { stopped in
                stopped = true
                _ = gst_task_stop(own.task)
            }
            return gst_task_join(own.task) != 0
        }
    }
}
