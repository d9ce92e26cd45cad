// swift-tools-version:6.0
// A second Swift transform module, for the tests (a plugin and two modules, each with its own
// static Swift runtime, in one process) and the module benchmark: `swiftmirror` (the built-in
// mirror's algorithm behind the module ABI), `passthrough` (encoded identity), `swiftnegate` (the
// built-in negate's in-place path on Opus), `fail-every` (throws on every n-th frame) and `halve`. scripts/build-modules.sh builds it.
import PackageDescription
import Foundation

let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path

let package = Package(
    name: "second-module",
    products: [.library(name: "second-module", type: .dynamic, targets: ["SecondModule"])],
    dependencies: [.package(name: "gst-insertable-streams", path: "../../..")],
    targets: [
        .target(name: "SecondModule",
                dependencies: [.product(name: "TransformModuleKit", package: "gst-insertable-streams")],
                linkerSettings: [.unsafeFlags(["-static-stdlib", "-Xlinker", "--version-script=\(here)/../../../templates/transform-module/exports.map",
                                               "-Xlinker", "-znodelete"])]),
    ]
)
