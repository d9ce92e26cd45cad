// swift-tools-version:6.0
// An outside package depending on gst-insertable-streams by URL and version, as an application
// would. scripts/test-swift-dependency.sh replaces the URL with a tagged local clone and runs it.
import PackageDescription

let package = Package(
    name: "dependent-app",
    dependencies: [
        .package(url: "https://github.com/gst-insertable-streams/gst-insertable-streams.git", from: "0.2.0"),
    ],
    targets: [
        .executableTarget(name: "DependentApp", dependencies: [
            .product(name: "InsertableStreams", package: "gst-insertable-streams"),
        ]),
    ]
)
