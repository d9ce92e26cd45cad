// libFuzzer entry point of the `framecryptor-receive` target (FuzzHarness.frameCryptorReceive): a property violation is a crash.
import FuzzHarnesses

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    do {
        try FuzzHarness.frameCryptorReceive(UnsafeRawBufferPointer(start: data, count: size))
    } catch {
        fatalError("framecryptor-receive: \(error)")
    }
    return 0
}
