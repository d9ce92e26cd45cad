// The `worker` fuzz target (FuzzHarness.worker): a property violation is a crash.
import FuzzHarnesses

@main
enum FuzzMain {
    static func main() { FuzzDriver.run("worker", FuzzHarness.worker) }
}
