// Debian's Chromium and Firefox ESR, headless, with fake camera and microphone: the browser
// end of the interop tests and of `browser-call --headless-browser`.
import Foundation
import Synchronization

/// Which browser calls the GStreamer peer.
public enum BrowserKind: String, Sendable, CaseIterable, CustomStringConvertible {
    case chromium
    case firefox

    public var description: String { self == .chromium ? "Chromium" : "Firefox" }

    /// Firefox gathers no loopback ICE candidates (whatever its ICE preferences say), so a call
    /// with it runs in a private network namespace with a veth pair (`PrivateNetwork`), where it
    /// offers that namespace's address; Chromium offers 127.0.0.1 when told to.
    public var needsPrivateNetwork: Bool { self == .firefox }

    /// The variable that names the executable (`CHROMIUM`, `FIREFOX`), and the names looked up
    /// on PATH otherwise.
    var environmentVariable: String { rawValue.uppercased() }
    var executableNames: [String] {
        switch self {
        case .chromium: ["chromium", "chromium-browser", "google-chrome"]
        case .firefox: ["firefox-esr", "firefox"]
        }
    }
    var packageHint: String {
        switch self {
        case .chromium: "install Debian's chromium package, or set CHROMIUM to its path"
        case .firefox: "install Debian's firefox-esr package, or set FIREFOX to its path"
        }
    }

    /// The flags every Chromium run uses. Fake devices stand in for camera and microphone (a
    /// test pattern and a beep) and are granted without a prompt; `--no-sandbox` because CI runs
    /// as root; loopback ICE candidates so that a machine with only `lo` can call; real host
    /// addresses rather than mDNS names, which libnice cannot resolve.
    public static let chromiumFlags = [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
        "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        "--autoplay-policy=no-user-gesture-required",
        "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
        "--enable-logging=stderr", "--v=0",
        // Containers often have a small /dev/shm, where Chromium would run out of memory.
        "--disable-dev-shm-usage",
    ]

    /// Firefox's preferences (the profile's user.js): fake devices granted without a prompt,
    /// autoplay allowed, plain host addresses in ICE candidates rather than mDNS names (libnice
    /// cannot resolve those), the page's console on stdout (for failure messages), and no
    /// first-run pages, telemetry or update checks (the private network has no way out anyway).
    public static let firefoxPreferences: [(String, String)] = [
        ("media.navigator.streams.fake", "true"),
        ("media.navigator.permission.disabled", "true"),
        ("media.autoplay.default", "0"),
        ("media.autoplay.blocking_policy", "0"),
        ("media.peerconnection.ice.obfuscate_host_addresses", "false"),
        ("devtools.console.stdout.content", "true"),
        ("browser.shell.checkDefaultBrowser", "false"),
        ("browser.startup.homepage_override.mstone", "\"ignore\""),
        ("browser.aboutwelcome.enabled", "false"),
        ("datareporting.policy.dataSubmissionEnabled", "false"),
        ("datareporting.healthreport.uploadEnabled", "false"),
        ("toolkit.telemetry.reportingpolicy.firstRun", "false"),
        ("app.update.disabledForTesting", "true"),
        ("app.normandy.enabled", "false"),
        ("extensions.update.enabled", "false"),
        ("network.captive-portal-service.enabled", "false"),
        ("network.connectivity-service.enabled", "false"),
        ("browser.safebrowsing.update.enabled", "false"),
    ]

    /// The command line that opens `url` with the profile in `profile`.
    func arguments(url: String, profile: URL, extraFlags: [String]) -> [String] {
        switch self {
        case .chromium: Self.chromiumFlags + extraFlags + ["--user-data-dir=\(profile.path)", url]
        case .firefox: ["--headless", "--no-remote", "--profile", profile.path] + extraFlags + [url]
        }
    }

    /// Prepares a fresh profile folder (Firefox: its user.js).
    func prepareProfile(_ profile: URL) throws {
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        if self == .firefox {
            let lines = Self.firefoxPreferences.map { "user_pref(\"\($0.0)\", \($0.1));" }
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: profile.appendingPathComponent("user.js"))
        }
    }

    /// The executable: `$CHROMIUM` / `$FIREFOX`, else the first of the usual names on PATH.
    public func executable() -> String? {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment[environmentVariable], !path.isEmpty {
            return FileManager.default.isExecutableFile(atPath: path) ? path : nil
        }
        let directories = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        for name in executableNames {
            for directory in directories where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
                return "\(directory)/\(name)"
            }
        }
        return nil
    }

    /// Why this browser cannot run headless here, or nil when it can: it must be installed and
    /// render a page within `timeout` seconds (Chromium prints its DOM, Firefox takes a
    /// screenshot).
    public func unavailableReason(timeout: Double = 60) -> String? {
        guard let executable = executable() else { return "no \(self) found (\(packageHint))" }
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("\(rawValue)-probe-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        let marker = "\(rawValue)-probe-ok"
        let screenshot = profile.appendingPathComponent("probe.png")
        let child = ChildProcess()
        child.process.executableURL = URL(fileURLWithPath: executable)
        do {
            try prepareProfile(profile)
            switch self {
            case .chromium:
                child.process.arguments = ["--headless=new", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile.path)",
                                           "--dump-dom", "data:text/html,<p>\(marker)</p>"]
            case .firefox:
                child.process.arguments = ["--headless", "--no-remote", "--profile", profile.path,
                                           "--screenshot", screenshot.path, "data:text/html,<p>\(marker)</p>"]
            }
            let output = profile.appendingPathComponent("probe.out")
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
            child.process.standardOutput = try FileHandle(forWritingTo: output)
            child.process.standardError = FileHandle.nullDevice
            try child.run()
            guard child.waitUntilExit(timeout: timeout) else {
                child.stop()
                return "\(executable) --headless did not render a page within \(Int(timeout)) s"
            }
            let rendered = switch self {
            case .chromium: ((try? String(contentsOf: output, encoding: .utf8)) ?? "").contains(marker)
            case .firefox: FileManager.default.fileExists(atPath: screenshot.path)
            }
            return rendered ? nil : "\(executable) --headless exited (\(child.process.terminationStatus)) without rendering a page"
        } catch {
            return "\(executable) does not start: \(error)"
        }
    }
}

/// A headless browser showing one page until `stop()`.
public final class HeadlessBrowser: Sendable {
    public let kind: BrowserKind
    private let child: ChildProcess
    private let profile: URL
    private let logFile: URL

    /// Starts `kind` on `url` with a fresh profile (removed by `stop()`).
    public init(_ kind: BrowserKind, url: String, extraFlags: [String] = []) throws {
        guard let executable = kind.executable() else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "no \(kind) found (\(kind.packageHint))"])
        }
        self.kind = kind
        profile = FileManager.default.temporaryDirectory.appendingPathComponent("\(kind.rawValue)-call-\(UUID().uuidString)")
        try kind.prepareProfile(profile)
        logFile = profile.appendingPathComponent("\(kind.rawValue).log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        child = ChildProcess()
        child.process.executableURL = URL(fileURLWithPath: executable)
        child.process.arguments = kind.arguments(url: url, profile: profile, extraFlags: extraFlags)
        var environment = ProcessInfo.processInfo.environment
        environment["MOZ_CRASHREPORTER_DISABLE"] = "1"
        child.process.environment = environment
        let log = try FileHandle(forWritingTo: logFile)
        child.process.standardOutput = log
        child.process.standardError = log
        try child.run()
    }

    public var isRunning: Bool { child.process.isRunning }

    /// The browser's output so far (its log and the page's console), for failure messages.
    public var output: String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
    }

    /// Ends the browser and its helper processes (SIGTERM, SIGKILL after 3 s) and removes its
    /// profile. Idempotent.
    public func stop() {
        child.stop()
        try? FileManager.default.removeItem(at: profile)
    }

    deinit { stop() }
}

/// A child process whose exit can be awaited without polling. Foundation's `Process` starts it
/// in a process group of its own (found on Linux: pgid = pid), so `stop()` reaches a browser's
/// helper processes too.
final class ChildProcess: @unchecked Sendable {
    /// Configure before `run()`; read after the exit.
    let process = Process()
    private let exited = DispatchSemaphore(value: 0)
    private let state = Mutex<(started: Bool, exited: Bool)>((false, false))

    init() {
        process.terminationHandler = { [weak self] _ in
            guard let self else { return }
            self.state.withLock { $0.exited = true }
            self.exited.signal()
        }
    }

    func run() throws {
        try process.run()
        state.withLock { $0.started = true }
    }

    /// Waits for the exit; false after `timeout` seconds.
    func waitUntilExit(timeout: Double) -> Bool {
        if state.withLock({ $0.exited || !$0.started }) { return true }
        guard exited.wait(timeout: .now() + timeout) == .success else { return false }
        exited.signal()  // later waits return at once
        return true
    }

    /// SIGTERM to the process group, SIGKILL after 3 s; returns once it has exited.
    func stop() {
        guard state.withLock({ $0.started && !$0.exited }) else { return }
        let pid = process.processIdentifier
        signalGroup(pid, SIGTERM)
        if !waitUntilExit(timeout: 3) {
            signalGroup(pid, SIGKILL)
            _ = waitUntilExit(timeout: 5)
        }
        // Helpers that outlived the browser (same group).
        _ = kill(-pid, SIGKILL)
    }

    private func signalGroup(_ pid: pid_t, _ signal: Int32) {
        if kill(-pid, signal) != 0 { _ = kill(pid, signal) }
    }
}
