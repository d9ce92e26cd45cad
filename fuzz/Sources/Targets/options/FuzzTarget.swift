// The `options` fuzz target (FuzzHarness.options): a property violation is a crash.
import FuzzHarnesses

@main
enum FuzzMain {
    static func main() { FuzzDriver.run("options", FuzzHarness.options) }
}
