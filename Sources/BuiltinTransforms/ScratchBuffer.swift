/// Memory a transformer keeps between frames so that its hot loops never allocate. Grows to the
/// largest size asked for and is zero-filled when (re)allocated. Used by one thread at a time,
/// like the transformer that owns it.
final class ScratchBuffer<Element: BitwiseCopyable> {
    private var storage: UnsafeMutablePointer<Element>?
    private var capacity = 0
    private let zero: Element

    init(zero: Element) {
        self.zero = zero
    }

    deinit { storage?.deallocate() }

    /// At least `count` elements; the contents of earlier calls are not kept when it grows.
    func pointer(count: Int) -> UnsafeMutablePointer<Element> {
        if let storage, count <= capacity { return storage }
        storage?.deallocate()
        capacity = max(count, 1)
        let fresh = UnsafeMutablePointer<Element>.allocate(capacity: capacity)
        fresh.initialize(repeating: zero, count: capacity)
        storage = fresh
        return fresh
    }

    /// Gives the memory back (e.g. at the end of a stream).
    func release() {
        storage?.deallocate()
        storage = nil
        capacity = 0
    }
}
