// The `h26x-escaping` fuzz target (FuzzHarness.h26xEscaping): a property violation is a crash.
import FuzzHarnesses

@main
enum FuzzMain {
    static func main() { FuzzDriver.run("h26x-escaping", FuzzHarness.h26xEscaping) }
}
