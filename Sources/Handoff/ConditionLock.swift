import Glibc

/// A mutex, the state it guards, and one condition variable: the state lives inside the lock and
/// is reachable only while it is held (`withLock`), where a body may also wait on the condition.
/// The hand-off between GStreamer's streaming threads and the elements' workers is built on it.
public final class ConditionLock<State>: @unchecked Sendable {
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    @usableFromInline let condition: UnsafeMutablePointer<pthread_cond_t>
    @usableFromInline let storage: UnsafeMutablePointer<State>

    public init(_ initial: State) {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
        storage = .allocate(capacity: 1)
        storage.initialize(to: initial)
    }

    deinit {
        storage.deinitialize(count: 1)
        storage.deallocate()
        pthread_cond_destroy(condition)
        condition.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// The held lock, given to a `withLock` body: the state, and the condition to wait on. Valid
    /// only inside that body (it is copyable because Swift 6.3's optimiser crashes on inlining a
    /// noncopyable one across modules; do not keep it).
    public struct Locked {
        @usableFromInline let owner: ConditionLock<State>

        @inlinable init(owner: ConditionLock<State>) { self.owner = owner }

        @inlinable public var state: State {
            unsafeAddress { UnsafePointer(owner.storage) }
            nonmutating unsafeMutableAddress { owner.storage }
        }

        /// Releases the lock until the condition is signalled, then holds it again. Spurious
        /// wake-ups happen: always wait in a loop that re-checks the state.
        @inlinable public func wait() { pthread_cond_wait(owner.condition, owner.mutex) }

        /// Wakes every waiter (they run once this body has released the lock).
        @inlinable public func broadcast() { pthread_cond_broadcast(owner.condition) }
    }

    @inlinable
    public func withLock<R>(_ body: (Locked) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(Locked(owner: self))
    }
}
