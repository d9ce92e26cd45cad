// libFuzzer entry point of the `options` target (FuzzHarness.options): a property violation is a crash.
import FuzzHarnesses

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    do {
        try FuzzHarness.options(UnsafeRawBufferPointer(start: data, count: size))
    } catch {
        fatalError("options: \(error)")
    }
    return 0
}
