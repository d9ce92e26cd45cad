import CGStreamer
import GStreamerBridge
import Synchronization

/// Live elements of one kind, found by their current name. `pip source=` uses it to reach a
/// processor in the same pipeline first and then in any other pipeline of the process.
final class ElementDirectory<Element: ElementSubclass>: Sendable {
    private struct Entry: @unchecked Sendable { weak var element: Element? }
    private let entries = Mutex<[Entry]>([])

    func add(_ element: Element) {
        entries.withLock { list in
            list.removeAll { $0.element == nil || $0.element === element }
            list.append(Entry(element: element))
        }
    }

    func remove(_ element: Element) {
        entries.withLock { list in list.removeAll { $0.element == nil || $0.element === element } }
    }

    var all: [Element] { entries.withLock { $0.compactMap(\.element) } }

    /// The element named `name`, preferring one inside the same top-level pipeline as `near`.
    func find(_ name: String, near: ElementSubclass) -> Element? {
        let candidates = all.filter { $0.name == name }
        let home = topLevelParent(of: near.objectPointer)
        return candidates.first { topLevelParent(of: $0.objectPointer) == home } ?? candidates.first
    }

    /// The outermost bin holding `object` (or `object` itself), compared by identity only.
    private func topLevelParent(of object: UnsafeMutablePointer<GstObject>) -> UnsafeMutableRawPointer {
        var current = gst_object_ref(object).assumingMemoryBound(to: GstObject.self)
        while let parent = gst_object_get_parent(current) {  // a new reference
            gst_object_unref(current)
            current = parent
        }
        defer { gst_object_unref(current) }
        return UnsafeMutableRawPointer(current)
    }
}
