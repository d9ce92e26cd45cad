// libFuzzer entry point of the `worker` target (FuzzHarness.worker): a property violation is a crash.
import FuzzHarnesses

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    do {
        try FuzzHarness.worker(UnsafeRawBufferPointer(start: data, count: size))
    } catch {
        fatalError("worker: \(error)")
    }
    return 0
}
