// libFuzzer entry point of the `sframe-header` target (FuzzHarness.sframeHeader): a property violation is a crash.
import FuzzHarnesses

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    do {
        try FuzzHarness.sframeHeader(UnsafeRawBufferPointer(start: data, count: size))
    } catch {
        fatalError("sframe-header: \(error)")
    }
    return 0
}
