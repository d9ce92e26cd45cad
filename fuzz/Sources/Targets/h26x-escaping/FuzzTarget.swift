// libFuzzer entry point of the `h26x-escaping` target (FuzzHarness.h26xEscaping): a property violation is a crash.
import FuzzHarnesses

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    do {
        try FuzzHarness.h26xEscaping(UnsafeRawBufferPointer(start: data, count: size))
    } catch {
        fatalError("h26x-escaping: \(error)")
    }
    return 0
}
