// The `framecryptor-receive` fuzz target (FuzzHarness.frameCryptorReceive): a property violation is a crash.
import FuzzHarnesses

@main
enum FuzzMain {
    static func main() { FuzzDriver.run("framecryptor-receive", FuzzHarness.frameCryptorReceive) }
}
