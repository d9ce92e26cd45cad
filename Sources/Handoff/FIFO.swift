/// A first-in first-out buffer whose `popFirst` does not shift the remaining elements.
@usableFromInline
struct FIFO<Element> {
    @usableFromInline var storage: [Element] = []
    @usableFromInline var head = 0

    @inlinable init() {}

    @inlinable var isEmpty: Bool { head == storage.count }
    @inlinable var count: Int { storage.count - head }
    @inlinable var first: Element? { head < storage.count ? storage[head] : nil }

    @inlinable mutating func append(_ element: Element) { storage.append(element) }

    @inlinable mutating func popFirst() -> Element? {
        guard head < storage.count else { return nil }
        let element = storage[head]
        head += 1
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64 && head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
        return element
    }

    @inlinable mutating func popLast() -> Element? {
        guard head < storage.count else { return nil }
        return storage.removeLast()
    }

    /// Empties the buffer, returning what it held (oldest first).
    @inlinable mutating func removeAll() -> [Element] {
        defer {
            storage.removeAll(keepingCapacity: true)
            head = 0
        }
        return Array(storage[head...])
    }
}
