// The `post-message` fuzz target (FuzzHarness.postMessage): a property violation is a crash.
import FuzzHarnesses

@main
enum FuzzMain {
    static func main() { FuzzDriver.run("post-message", FuzzHarness.postMessage) }
}
