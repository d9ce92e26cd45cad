import Synchronization

/// A flag shared between the worker and the threads that stop it.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool {
        get { value.load(ordering: .acquiring) }
        set { value.store(newValue, ordering: .releasing) }
    }
}
