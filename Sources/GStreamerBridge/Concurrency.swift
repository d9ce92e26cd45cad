import CGStreamer

/// A mutex and condition variable (GLib's), for the blocking hand-offs between GStreamer's
/// streaming threads and element worker threads. Allocated once so their addresses are stable.
public final class LockedCondition: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<GMutex>
    private let condition: UnsafeMutablePointer<GCond>

    public init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: GMutex())
        g_mutex_init(mutex)
        condition = .allocate(capacity: 1)
        condition.initialize(to: GCond())
        g_cond_init(condition)
    }

    deinit {
        g_cond_clear(condition)
        g_mutex_clear(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    @inline(__always)
    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        g_mutex_lock(mutex)
        defer { g_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits for a broadcast; call with the lock held (inside `withLock`).
    public func wait() { g_cond_wait(condition, mutex) }

    /// Waits at most `microseconds`; returns false on time-out. Call with the lock held.
    @discardableResult
    public func wait(microseconds: Int64) -> Bool {
        g_cond_wait_until(condition, mutex, g_get_monotonic_time() + gint64(microseconds)) != 0
    }

    /// Wakes every waiter; call with or without the lock held.
    public func broadcast() { g_cond_broadcast(condition) }
}

/// A dedicated worker thread driven by a GstTask: GStreamer names the thread, and
/// `stop()` joins it. `body` runs in a loop until `stop()`.
public final class WorkerTask: @unchecked Sendable {
    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    private let task: UnsafeMutablePointer<GstTask>
    private let lock: UnsafeMutablePointer<GRecMutex>

    public init(name: String, body: @escaping @Sendable () -> Void) {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        task = gst_task_new({ data in
            Unmanaged<Body>.fromOpaque(data!).takeUnretainedValue().run()
        }, context, { data in
            Unmanaged<Body>.fromOpaque(data!).release()
        })
        lock = .allocate(capacity: 1)
        lock.initialize(to: GRecMutex())
        g_rec_mutex_init(lock)
        gst_task_set_lock(task, lock)
        UnsafeMutableRawPointer(task).withMemoryRebound(to: GstObject.self, capacity: 1) {
            _ = gst_object_set_name($0, name)
        }
    }

    deinit {
        stop()
        gst_object_unref(task)
        g_rec_mutex_clear(lock)
        lock.deallocate()
    }

    public func start() { gst_task_start(task) }

    /// Stops the loop and waits for the thread to finish. The body must have been unblocked
    /// first; never call this from the task's own thread. A body must not change the task's
    /// state itself (a `pause()` from inside could overwrite this stop, and the join would never
    /// return): block inside the body instead.
    public func stop() {
        gst_task_stop(task)
        gst_task_join(task)
    }

}
