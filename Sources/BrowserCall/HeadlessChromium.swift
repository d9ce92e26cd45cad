// Debian's Chromium, headless, with fake camera and microphone: the browser end of the
// interop tests and of `browser-call --headless-browser`.
import Foundation
import Synchronization

/// A headless Chromium showing one page until `stop()`.
public final class HeadlessChromium: Sendable {
    /// The flags every run uses. Fake devices stand in for camera and microphone (a test
    /// pattern and a beep) and are granted without a prompt; `--no-sandbox` because CI runs as
    /// root; loopback ICE candidates so that a machine with only `lo` can call; real host
    /// addresses rather than mDNS names, which libnice cannot resolve.
    public static let flags = [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
        "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        "--autoplay-policy=no-user-gesture-required",
        "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
        "--enable-logging=stderr", "--v=0",
        // Containers often have a small /dev/shm, where Chromium would run out of memory.
        "--disable-dev-shm-usage",
    ]

    private let process: Process
    private let profile: URL
    private let logFile: URL

    /// The Chromium executable: `$CHROMIUM`, else the first of chromium, chromium-browser,
    /// google-chrome on PATH.
    public static func executable() -> String? {
        if let path = ProcessInfo.processInfo.environment["CHROMIUM"], !path.isEmpty {
            return FileManager.default.isExecutableFile(atPath: path) ? path : nil
        }
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            for directory in directories where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
                return "\(directory)/\(name)"
            }
        }
        return nil
    }

    /// Why headless Chromium cannot run here, or nil when it can: it must be installed and
    /// render a page within `timeout` seconds.
    public static func unavailableReason(timeout: Double = 60) -> String? {
        guard let executable = executable() else {
            return "no Chromium found (install Debian's chromium package, or set CHROMIUM to its path)"
        }
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-probe-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--headless=new", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile.path)",
                             "--dump-dom", "data:text/html,<p>chromium-probe-ok</p>"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return "\(executable) does not start: \(error)" }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        if process.isRunning {
            process.terminate()
            return "\(executable) --headless did not render a page within \(Int(timeout)) s"
        }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return text.contains("chromium-probe-ok") ? nil : "\(executable) --headless exited (\(process.terminationStatus)) without rendering a page"
    }

    /// Starts Chromium on `url` with a fresh profile.
    public init(url: String, extraFlags: [String] = []) throws {
        guard let executable = Self.executable() else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "no Chromium found"])
        }
        profile = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-call-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        logFile = profile.appendingPathComponent("chromium.log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = Self.flags + extraFlags + ["--user-data-dir=\(profile.path)", url]
        let log = try FileHandle(forWritingTo: logFile)
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    public var isRunning: Bool { process.isRunning }

    /// Chromium's output so far (its log and the page's console), for failure messages.
    public var output: String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
    }

    /// Ends Chromium (SIGTERM, then SIGKILL after 3 s) and removes its profile.
    public func stop() {
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(3)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: profile)
    }

    deinit { stop() }
}
