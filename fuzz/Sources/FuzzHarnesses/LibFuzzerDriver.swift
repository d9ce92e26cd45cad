#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer's driver (compiler-rt, linked by `-sanitize=fuzzer`): parses libFuzzer's options
/// from the command line and runs the fuzzing loop on `callback`.
@_silgen_name("LLVMFuzzerRunDriver")
public func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                                _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                                _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32
