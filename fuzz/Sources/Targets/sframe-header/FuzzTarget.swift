// The `sframe-header` fuzz target (FuzzHarness.sframeHeader): a property violation is a crash.
import FuzzHarnesses

@main
enum FuzzMain {
    static func main() { FuzzDriver.run("sframe-header", FuzzHarness.sframeHeader) }
}
