// libFuzzer entry point of the `post-message` target (FuzzHarness.postMessage): a property violation is a crash.
import FuzzHarnesses

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    do {
        try FuzzHarness.postMessage(UnsafeRawBufferPointer(start: data, count: size))
    } catch {
        fatalError("post-message: \(error)")
    }
    return 0
}
