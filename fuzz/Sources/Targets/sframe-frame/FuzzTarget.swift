// libFuzzer entry point of the `sframe-frame` target (FuzzHarness.sframeFrame): a property violation is a crash.
import FuzzHarnesses

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    do {
        try FuzzHarness.sframeFrame(UnsafeRawBufferPointer(start: data, count: size))
    } catch {
        fatalError("sframe-frame: \(error)")
    }
    return 0
}
