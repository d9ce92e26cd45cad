// The `vp8-layout` fuzz target (FuzzHarness.vp8Layout): a property violation is a crash.
import FuzzHarnesses

@main
enum FuzzMain {
    static func main() { FuzzDriver.run("vp8-layout", FuzzHarness.vp8Layout) }
}
