import BrowserCall
import CGStreamer
import Foundation
import Synchronization
import WebRTCLoopback
import XCTest

/// The base of the browser interop tests: starts `BrowserCallServer` on a free port and a headless
/// browser on its page, waits on the call's report (signalled on every change, no polling), and
/// runs Firefox's tests inside a private network namespace (Firefox gathers no loopback ICE
/// candidates): the test process runs the test again as a child under `unshare --net` with a veth
/// pair (`PrivateNetwork`), and reports the child's outcome as its own.
class BrowserCallTestCase: XCTestCase {
    /// Why a browser cannot run headless here (probed once per test process), or nil. A child
    /// in a private network does not probe again: its parent did.
    private static let probed = Mutex<[BrowserKind: String?]>([:])
    static func problem(_ kind: BrowserKind) -> String? {
        if PrivateNetwork.current != nil { return nil }
        return probed.withLock { cache in
            if let known = cache[kind] { return known }
            let problem = kind.unavailableReason()
            cache[kind] = problem
            return problem
        }
    }

    /// Longest a child test process in a private network may take.
    static let childTimeout: Duration = .seconds(300)

    private(set) var server: BrowserCallServer?
    private(set) var browser: HeadlessBrowser?

    override func tearDown() async throws {
        browser?.stop()
        await server?.stop()
        browser = nil
        server = nil
    }

    /// Stops the current call (browser and server), e.g. before a second call in one test.
    func endCall() async {
        browser?.stop()
        await server?.stop()
        browser = nil
        server = nil
    }

    /// Skips when `kind` cannot run headless here. Firefox calls (`privateNetwork`) then run in a
    /// child test process inside a private network namespace: in this (parent) process the
    /// function reports the child's outcome and returns false, and the caller returns; in the
    /// child, and for Chromium, it returns true and the test goes on.
    func runsHere(_ kind: BrowserKind, privateNetwork: Bool? = nil, test: String = #function) async throws -> Bool {
        if let problem = Self.problem(kind) { throw XCTSkip("headless \(kind) cannot run here: \(problem)") }
        guard privateNetwork ?? kind.needsPrivateNetwork, PrivateNetwork.current == nil else { return true }
        try await runInPrivateNetwork(test: test)
        return false
    }

    /// Starts the server on a free port and `kind` on `path` of it.
    @discardableResult
    func startCall(_ kind: BrowserKind = .chromium, mode: CallMode = .sframe, browserKey: String? = nil,
                   browserPassphrase: String? = nil, syntheticMedia: Bool = false, transformAPI: String? = nil,
                   path: String = "/", vp8Layout: PeerVP8Layout = .gstreamer) async throws -> BrowserCallServer {
        _ = ExampleEnvironment.ready
        if let reason = mode.unavailableReason { throw XCTSkip(reason) }
        var configuration = CallServerConfiguration()
        configuration.port = 0
        configuration.testDataDirectory = ExampleEnvironment.testdata.path
        configuration.vp8Layout = vp8Layout
        if let address = PrivateNetwork.current { configuration.iceHostAddresses = .only([address]) }
        let server = BrowserCallServer(configuration)
        self.server = server
        try await server.start()
        browser = try HeadlessBrowser(kind, url: server.pageURL(mode: mode, key: browserKey, passphrase: browserPassphrase, autostart: true,
                                                                 syntheticMedia: syntheticMedia, transformAPI: transformAPI, path: path))
        return server
    }

    /// True once `condition` holds for the call's report, false after `seconds`.
    func waitFor(_ seconds: Double, _ condition: @escaping @Sendable (CallReport) -> Bool) async -> Bool {
        guard let server else { return false }
        return await server.waitForReport(timeout: .milliseconds(Int(seconds * 1000)), until: condition)
    }

    /// Both ends' figures, the call log and the browser's output, for failure messages.
    func diagnostics() -> String {
        guard let report = server?.report else { return "no server" }
        let output = browser?.output.split(separator: "\n").suffix(30).joined(separator: "\n") ?? ""
        return """

            page: \(report.browser)
            GStreamer: \(report.gstreamer)
            log:
            \(report.log.suffix(40).joined(separator: "\n"))
            \(browser?.kind.description ?? "browser"):
            \(output)
            """
    }

    static let kinds = ["video", "audio"]

    /// Frames both ways, both kinds: decrypted (authenticated) and decoded.
    static func flowingBothWays(_ report: CallReport, frames: Int) -> Bool {
        let page = report.browser, peer = report.gstreamer
        return page["video.receive.decrypted"] >= frames && page["video.receive.framesDecoded"] >= frames
            && page["audio.receive.decrypted"] >= frames && page["audio.receive.totalSamplesReceived"] > 0
            && peer["video.receive.decrypted"] >= frames && peer["video.receive.framesDecoded"] >= frames
            && peer["audio.receive.decrypted"] >= frames && peer["audio.receive.framesDecoded"] >= frames
    }

    /// What the GStreamer receivers count as refused: sframe's kinds and framecryptor's.
    static let gstreamerRefusalKinds = ["authentication", "keyID", "syntax", "replay",
                                        "missing-key", "key-invalidated", "iv-length", "escaping", "server-injected"]

    /// Frames refused by the GStreamer receiver of `kind`.
    static func gstreamerRefusals(_ report: CallReport, _ kind: String) -> Int {
        gstreamerRefusalKinds.map { report.gstreamer["\(kind).receive.\($0)"] }.reduce(0, +)
    }

    /// Refusals counted by either end, by kind.
    static func refusals(_ report: CallReport) -> [String: Int] {
        var counts: [String: Int] = [:]
        for kind in kinds {
            counts["page \(kind)"] = report.browser["\(kind).receive.failed"]
            counts["GStreamer \(kind)"] = gstreamerRefusals(report, kind)
        }
        return counts
    }

    // MARK: - Private network

    /// Runs `test` of this class in a child test process inside a private network namespace and
    /// turns its outcome into this test's: passed, skipped (with the child's reason) or failed
    /// (with the child's failure lines and the end of its output).
    private func runInPrivateNetwork(test: String) async throws {
        let name = "ExampleTests.\(String(describing: type(of: self)))/\(test.replacingOccurrences(of: "()", with: ""))"
        let outputFile = FileManager.default.temporaryDirectory.appendingPathComponent("private-network-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outputFile) }
        let child = try PrivateNetwork.process(running: PrivateNetwork.currentExecutable, arguments: [name])
        // A crash in the child prints every thread's stack, without the registers and the image
        // list that would push the stacks out of the end of the output shown below.
        child.environment?["SWIFT_BACKTRACE"] = "enable=yes,interactive=no,threads=all,registers=none,images=none"
        let output = try FileHandle(forWritingTo: outputFile)
        child.standardOutput = output
        child.standardError = output
        let started = ContinuousClock.now
        let watchdog = Mutex<Task<Void, Never>?>(nil)
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            child.terminationHandler = { process in continuation.resume(returning: process.terminationStatus) }
            do {
                try child.run()
            } catch {
                child.terminationHandler = nil
                continuation.resume(throwing: error)
                return
            }
            // A hung child is killed, and with it everything in its namespaces (the browser too).
            let pid = child.processIdentifier
            watchdog.withLock {
                $0 = Task {
                    try? await Task.sleep(for: Self.childTimeout)
                    if !Task.isCancelled { kill(pid, SIGKILL) }
                }
            }
        }
        watchdog.withLock { $0?.cancel() }
        try? output.close()
        let elapsed = (ContinuousClock.now - started).components
        let text = (try? String(contentsOf: outputFile, encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        print("\(name): ran in a private network namespace (\(PrivateNetwork.address)); the child exited \(status) after \(String(format: "%.1f", seconds)) s")
        if let skip = lines.first(where: { $0.contains("Test skipped") }) {
            throw XCTSkip("in the private network: " + (skip.components(separatedBy: "Test skipped").last ?? "").trimmingCharacters(in: CharacterSet(charactersIn: " -:")))
        }
        let passed = lines.contains { $0.contains("Test Case '") && $0.contains("' passed") }
        if status == 0 && passed { return }
        let failures = lines.filter { $0.contains(": error: ") }.map { String($0) }
        let crash = Self.crashSummary(lines)
        XCTFail("""
            \(name) failed in a private network namespace (exit status \(status)):
            \(failures.joined(separator: "\n"))
            --- end of its output ---
            \(lines.suffix(120).joined(separator: "\n"))
            \(crash.isEmpty ? "" : "--- the crash (again, last, as the end of a log is what is kept) ---\n" + crash.joined(separator: "\n"))
            """)
    }

    /// From the output of a child the Swift runtime's backtracer reported on: the fatal error
    /// lines, the "Program crashed" line and the crashed thread's frames.
    static func crashSummary(_ lines: [Substring]) -> [Substring] {
        var summary = lines.filter { $0.contains("Fatal error") || $0.contains("Program crashed") }
        if let start = lines.firstIndex(where: { $0.hasPrefix("Thread ") && $0.hasSuffix(" crashed:") }) {
            // The header, a blank line, the frames up to the next blank line.
            var end = start + 2
            while end < lines.count, !lines[end].trimmingCharacters(in: .whitespaces).isEmpty, end - start < 60 { end += 1 }
            summary += lines[start..<min(end, lines.count)]
        }
        return summary
    }
}
