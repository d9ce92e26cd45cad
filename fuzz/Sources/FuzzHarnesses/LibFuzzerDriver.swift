#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer's driver (compiler-rt, linked by `-sanitize=fuzzer`): parses libFuzzer's options
/// from the command line and runs the fuzzing loop on `callback`.
@_silgen_name("LLVMFuzzerRunDriver")
public func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                                _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                                _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

/// Every fuzz target's `main`: `FuzzDriver.run("h26x-escaping", FuzzHarness.h26xEscaping)`.
public enum FuzzDriver {
    public typealias Harness = (UnsafeRawBufferPointer) throws -> Void

    /// The executable's one target, set once before libFuzzer starts; libFuzzer then calls
    /// `fuzzTestOneInput` on this same thread, one input at a time.
    nonisolated(unsafe) fileprivate static var target: (name: String, harness: Harness)?

    /// Hands the command line to libFuzzer with `harness` as the property under test: a thrown
    /// error is a crash naming the target (libFuzzer saves the input).
    public static func run(_ name: String, _ harness: @escaping Harness) -> Never {
        target = (name, harness)
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzTestOneInput))
    }
}

/// libFuzzer's entry point, defined once for every target (libFuzzer's objects refer to the
/// symbol even when the driver is given the callback).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let target = FuzzDriver.target else { fatalError("fuzz target started without FuzzDriver.run") }
    do {
        try target.harness(UnsafeRawBufferPointer(start: data, count: size))
    } catch {
        fatalError("\(target.name): \(error)")
    }
    return 0
}
