// ThreadSanitizer edges for Swift's Synchronization.Mutex (LD_PRELOADed by
// scripts/sanitizers.sh thread; never part of the plugin).
//
// Mutex's fast paths are inlined into our (instrumented) code as atomic compare-exchanges, which
// ThreadSanitizer sees. Its slow paths, taken under contention, are functions of the
// uninstrumented Swift runtime (libswiftSynchronization.so) that wait and hand the lock over with
// PI futexes in the kernel: an unlock through _unlockSlow followed by a lock through _lockSlow
// gives ThreadSanitizer no edge, and it reports the state the Mutex guards as racing. These
// wrappers interpose the three exported slow paths, call the runtime's own, and tell the
// sanitizer what the futex did: acquire after a lock, release before an unlock, on the address
// of the lock word (the address the inlined fast paths' atomics use).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>

// Weak: processes without the sanitizer (swift-test itself, gst-plugin-scanner) load this too.
void __tsan_acquire(void *address) __attribute__((weak));
void __tsan_release(void *address) __attribute__((weak));

#define SWIFT_CC __attribute__((swiftcall))
// swift_context is what clang calls the swiftself register (r13 on x86_64), where methods take self.
#define SELF __attribute__((swift_context))

#define LOCK_SLOW "$s15Synchronization12_MutexHandleV9_lockSlowyys6UInt32VF"
#define TRY_LOCK_SLOW "$s15Synchronization12_MutexHandleV12_tryLockSlowSbyF"
#define UNLOCK_SLOW "$s15Synchronization12_MutexHandleV11_unlockSlowyyF"

typedef SWIFT_CC void (*LockSlow)(uint32_t, SELF void *);
typedef SWIFT_CC bool (*TryLockSlow)(SELF void *);
typedef SWIFT_CC void (*UnlockSlow)(SELF void *);

SWIFT_CC void lockSlow(uint32_t selfID, SELF void *handle) __asm__(LOCK_SLOW);
SWIFT_CC void lockSlow(uint32_t selfID, SELF void *handle) {
    static LockSlow real;
    if (!real) real = (LockSlow)dlsym(RTLD_NEXT, LOCK_SLOW);
    real(selfID, handle);
    if (__tsan_acquire) __tsan_acquire(handle);
}

SWIFT_CC bool tryLockSlow(SELF void *handle) __asm__(TRY_LOCK_SLOW);
SWIFT_CC bool tryLockSlow(SELF void *handle) {
    static TryLockSlow real;
    if (!real) real = (TryLockSlow)dlsym(RTLD_NEXT, TRY_LOCK_SLOW);
    bool locked = real(handle);
    if (locked && __tsan_acquire) __tsan_acquire(handle);
    return locked;
}

SWIFT_CC void unlockSlow(SELF void *handle) __asm__(UNLOCK_SLOW);
SWIFT_CC void unlockSlow(SELF void *handle) {
    static UnlockSlow real;
    if (!real) real = (UnlockSlow)dlsym(RTLD_NEXT, UNLOCK_SLOW);
    if (__tsan_release) __tsan_release(handle);
    real(handle);
}
