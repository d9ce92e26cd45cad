// libFuzzer entry point of the `options` target (FuzzHarness.options): a property violation is a crash.
// SwiftPM gives every executable a `main`, so this one hands the command line to libFuzzer's driver.
import FuzzHarnesses
import Glibc

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    do {
        try FuzzHarness.options(UnsafeRawBufferPointer(start: data, count: size))
    } catch {
        fatalError("options: \(error)")
    }
    return 0
}

@main
enum FuzzMain {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzTestOneInput))
    }
}
