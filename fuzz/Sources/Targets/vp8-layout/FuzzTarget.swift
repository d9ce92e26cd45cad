// libFuzzer entry point of the `vp8-layout` target (FuzzHarness.vp8Layout): a property violation is a crash.
import FuzzHarnesses

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    do {
        try FuzzHarness.vp8Layout(UnsafeRawBufferPointer(start: data, count: size))
    } catch {
        fatalError("vp8-layout: \(error)")
    }
    return 0
}
