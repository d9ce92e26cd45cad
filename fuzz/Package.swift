// swift-tools-version:6.0
//
// libFuzzer targets for every parser of untrusted bytes in the plugin (RELIABILITY.md "Fuzzing").
// Its own package, so that the main package keeps no unsafe flags: scripts/fuzz.sh builds it with
// `-sanitize=fuzzer,address` for every module (the main package's code gets the coverage
// instrumentation and AddressSanitizer too). Each executable is three lines: its `main` hands the
// command line and its harness to libFuzzer's driver (FuzzDriver.run in FuzzHarnesses).
//
// The harnesses themselves (FuzzHarnesses) are plain Swift on the public API of the main package's
// modules (SFrame, FrameCryptor, EncodedStreams, TransformCore, MediaStreams, BuiltinTransforms),
// reached through its InsertableStreams product; the main test suite compiles the same file
// (FuzzRegressionTests) to replay the committed corpus without the fuzzer.
import PackageDescription

let targets = ["sframe-header", "sframe-frame", "vp8-layout", "h26x-escaping", "framecryptor-receive",
               "worker", "options", "post-message"]

func moduleName(_ target: String) -> String {
    "Fuzz" + target.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
}

let package = Package(
    name: "insertable-streams-fuzz",
    products: targets.map { .executable(name: "fuzz-\($0)", targets: [moduleName($0)]) },
    dependencies: [.package(name: "gst-insertable-streams", path: "..")],
    targets: [
        .target(name: "FuzzHarnesses",
                dependencies: [.product(name: "InsertableStreams", package: "gst-insertable-streams")]),
    ] + targets.map { target in
        .executableTarget(name: moduleName(target), dependencies: ["FuzzHarnesses"],
                          path: "Sources/Targets/\(target)")
    }
)
