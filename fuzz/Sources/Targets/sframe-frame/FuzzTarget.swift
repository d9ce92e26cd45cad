// The `sframe-frame` fuzz target (FuzzHarness.sframeFrame): a property violation is a crash.
import FuzzHarnesses

@main
enum FuzzMain {
    static func main() { FuzzDriver.run("sframe-frame", FuzzHarness.sframeFrame) }
}
