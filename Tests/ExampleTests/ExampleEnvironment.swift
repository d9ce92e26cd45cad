import CGStreamer
import Foundation
import Glibc
import InsertableStreams

/// GStreamer for the examples' tests: a private registry (a blacklisted plugin elsewhere cannot
/// interfere) and the elements registered in this process, the way an application does it.
enum ExampleEnvironment {
    static let ready: Void = {
        setenv("GST_REGISTRY", "/tmp/insertable-streams-example-tests-\(getpid()).registry", 1)
        unsetenv("GST_PLUGIN_PATH")
        gst_init(nil, nil)
        InsertableStreams.registerElements()
    }()

    /// ../shared/testdata beside the repository.
    static let testdata = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/testdata")
}
