// browser-call: serves the E2EE call page and runs the GStreamer peer each page calls.
//
//   browser-call [--host ADDR] [--port N] [--e2ee sframe|livekit] [--key HEX] [--passphrase TEXT] [--loopback-ice]
//                [--vp8-partitions N] [--vp8-layout gstreamer|web] [--testdata DIR]
//                [--headless-browser [--browser chromium|firefox] [--mode sframe|livekit|negate] [--browser-key HEX]
//                                    [--browser-passphrase TEXT] [--seconds N] [--rotate-after N] [--synthetic-media]]
//
// Without --headless-browser it prints the address to open and runs until interrupted, printing
// both ends' figures every 2 s during a call. With it, it calls itself from headless Chromium or
// Firefox (fake camera and microphone) for --seconds and exits 0 when both ends decoded both
// kinds. Firefox offers no loopback ICE candidates, so with it the program runs itself again
// inside a private network namespace (PrivateNetwork: unshare --net, a veth pair, 198.18.0.1).
import BrowserCall
import CGStreamer
import Foundation
import InsertableStreams
import WebRTCLoopback

let usage = """
    usage: browser-call [--host ADDR] [--port N] [--e2ee sframe|livekit] [--key HEX] [--passphrase TEXT] [--loopback-ice]
                        [--vp8-partitions 1|2|4|8] [--vp8-layout gstreamer|web] [--testdata DIR]
                        [--headless-browser [--browser chromium|firefox] [--mode sframe|livekit|negate] [--browser-key HEX]
                                            [--browser-passphrase TEXT] [--seconds N] [--rotate-after N] [--synthetic-media]]
      --host/--port   where to listen (default 127.0.0.1:8080; the page needs http://127.0.0.1 or localhost)
      --e2ee          the frame format of the page's address (and of --headless-browser): sframe (RFC 9605, default) or
                      livekit (LiveKit's format with a shared passphrase: the GStreamer peer runs framecryptor)
      --key           the GStreamer peer's SFrame base key, hex >= 16 bytes (default \(LoopbackConfiguration.demoKey));
                      the page takes its key from the address's #key= fragment
      --passphrase    the GStreamer peer's LiveKit passphrase (default "\(LoopbackConfiguration.demoPassphrase)"); the page
                      takes its own from the address's #passphrase= fragment
      --loopback-ice  gather ICE candidates on 127.0.0.1 only (browsers started with --allow-loopback-in-peer-connection)
      --vp8-layout    clear bytes of the GStreamer peer's VP8: gstreamer (default: header, first partition and partition
                      table, through rtpvp8pay) or web (10/3 bytes as browsers send, through rtpvp8e2eepay)
      --testdata      folder of sframe-test-vectors.json and livekit-e2ee-vectors.json for the page's self test
                      /selftest.html (default ../shared/testdata)
      --headless-browser  call from headless Chromium (or --browser firefox, in a private network namespace) for
                      --seconds (default 12), print the figures, exit 0 when both ends decoded video and audio from the
                      other (1 otherwise); --browser-key / --browser-passphrase give the page another key or passphrase
                      (then nothing decodes), --rotate-after N rotates the key from the page after N s (livekit: both
                      ends ratchet their send keys), --synthetic-media makes the page send a drawn pattern and a tone
                      instead of the fake devices
    """

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(64)
}

var configuration = CallServerConfiguration()
var headless = false
var mode = CallMode.sframe
var browserKey: String?
var browserPassphrase: String?
var browserKind = BrowserKind.chromium
var syntheticMedia = false
var seconds = 12.0
var rotateAfter: Double?
var arguments = CommandLine.arguments.dropFirst()
@MainActor func value(for option: String) -> String {
    guard let value = arguments.popFirst() else { fail("\(option) needs a value\n\(usage)") }
    return value
}
while let argument = arguments.popFirst() {
    switch argument {
    case "--host": configuration.host = value(for: argument)
    case "--port":
        guard let port = UInt16(value(for: argument)) else { fail("--port takes a number 0-65535") }
        configuration.port = port
    case "--key": configuration.key = value(for: argument)
    case "--passphrase": configuration.passphrase = value(for: argument)
    case "--e2ee":
        let name = value(for: argument)
        guard name == "sframe" || name == "livekit" else { fail("--e2ee takes sframe or livekit, not \(name)") }
        mode = CallMode(rawValue: name)!
    case "--loopback-ice": configuration.iceHostAddresses = .loopback
    case "--testdata": configuration.testDataDirectory = value(for: argument)
    case "--vp8-partitions":
        guard let count = Int(value(for: argument)), [1, 2, 4, 8].contains(count) else { fail("--vp8-partitions takes 1, 2, 4 or 8") }
        configuration.vp8TokenPartitions = count
    case "--vp8-layout":
        let name = value(for: argument)
        guard let layout = PeerVP8Layout(rawValue: name) else { fail("--vp8-layout takes gstreamer or web, not \(name)") }
        configuration.vp8Layout = layout
    case "--headless-browser": headless = true
    case "--mode":
        let name = value(for: argument)
        guard let chosen = CallMode(rawValue: name) else { fail("--mode takes sframe, livekit or negate, not \(name)") }
        mode = chosen
    case "--browser": 
        let name = value(for: argument)
        guard let kind = BrowserKind(rawValue: name) else { fail("--browser takes chromium or firefox, not \(name)") }
        browserKind = kind
    case "--browser-key": browserKey = value(for: argument)
    case "--browser-passphrase": browserPassphrase = value(for: argument)
    case "--synthetic-media": syntheticMedia = true
    case "--seconds":
        guard let number = Double(value(for: argument)), number > 0 else { fail("--seconds takes a positive number") }
        seconds = number
    case "--rotate-after":
        guard let number = Double(value(for: argument)), number > 0 else { fail("--rotate-after takes a positive number") }
        rotateAfter = number
    case "-h", "--help":
        print(usage)
        exit(0)
    default: fail("unknown option \(argument)\n\(usage)")
    }
}
guard configuration.key.count >= 32, configuration.key.count % 2 == 0, configuration.key.allSatisfy(\.isHexDigit) else {
    fail("--key must be hex, at least 16 bytes (32 digits)")
}
guard !configuration.passphrase.isEmpty else { fail("--passphrase must not be empty") }
if headless, configuration.port == 8080 { configuration.port = 0 }  // any free port

// Firefox gathers no loopback candidates: run this program again in a private network namespace
// (where it gathers on the veth's address, and so does the GStreamer peer), and exit as it does.
if headless, browserKind.needsPrivateNetwork {
    if let address = PrivateNetwork.current {
        configuration.iceHostAddresses = .only([address])
    } else {
        do {
            let child = try PrivateNetwork.process(running: PrivateNetwork.currentExecutable, arguments: Array(CommandLine.arguments.dropFirst()))
            try child.run()
            child.waitUntilExit()
            exit(child.terminationStatus)
        } catch {
            FileHandle.standardError.write(Data("browser-call: cannot run the call in a private network namespace: \(error)\n".utf8))
            exit(3)
        }
    }
}
// The page's self test (/selftest.html) fetches the RFC 9605 vectors from ../shared/testdata.
if configuration.testDataDirectory == nil, FileManager.default.fileExists(atPath: "../shared/testdata/sframe-test-vectors.json") {
    configuration.testDataDirectory = "../shared/testdata"
}
configuration.log = { line in print("[call] \(line)") }

gst_init(nil, nil)
guard InsertableStreams.registerElements() else { fail("cannot register the insertable-streams elements") }
if let reason = mode.unavailableReason { fail("--e2ee/--mode \(mode.rawValue): \(reason)") }

/// Both ends' figures on one line per kind.
func summary(_ report: CallReport) -> String {
    let page = report.browser, peer = report.gstreamer
    var lines: [String] = []
    for kind in ["video", "audio"] {
        let decoded = kind == "video" ? "video.receive.framesDecoded" : "audio.receive.totalSamplesReceived"
        let peerFailures = ["authentication", "keyID", "syntax", "replay", "missing-key", "key-invalidated", "iv-length", "escaping"]
            .map { peer["\(kind).receive.\($0)"] }.reduce(0, +)
        lines.append("\(kind): GStreamer→page encrypted \(peer["\(kind).send.encrypted"]) decrypted \(page["\(kind).receive.decrypted"])"
                     + " failed \(page["\(kind).receive.failed"]) (\(kind == "video" ? "frames decoded" : "samples") \(page[decoded]));"
                     + " page→GStreamer encrypted \(page["\(kind).send.encrypted"]) decrypted \(peer["\(kind).receive.decrypted"])"
                     + " failed \(peerFailures)"
                     + " (frames decoded \(peer["\(kind).receive.framesDecoded"]))")
    }
    return lines.joined(separator: "\n")
}

/// An address without its fragment: keys and passphrases are not printed.
func withoutFragment(_ url: String) -> String { String(url.split(separator: "#")[0]) }

let server = BrowserCallServer(configuration)
let port: UInt16
do {
    port = try await server.start()
} catch {
    FileHandle.standardError.write(Data("browser-call: cannot listen on \(configuration.host):\(configuration.port): \(error)\n".utf8))
    exit(2)
}

if !headless {
    print("""
        Open \(withoutFragment(server.pageURL(mode: mode))) in Chromium or Firefox (or \(withoutFragment(server.pageURL(mode: .negate))) for the negate check).
        \(mode == .livekit
            ? "The page uses the demo passphrase unless its address ends in #passphrase=<text, URL-encoded>; the GStreamer peer uses --passphrase."
            : "The page uses the demo key unless its address ends in #key=<hex>; the GStreamer peer uses --key.") Ctrl-C stops.
        """)
    var lastCalls = 0
    while true {
        try await Task.sleep(for: .seconds(2))
        let report = server.report
        if report.calls > 0, report.calls != lastCalls || !report.browser.numbers.isEmpty {
            lastCalls = report.calls
            print(summary(report))
        }
    }
}

// --headless-browser: call ourselves.
if let reason = browserKind.unavailableReason() {
    FileHandle.standardError.write(Data("browser-call: headless \(browserKind) cannot run here: \(reason)\n".utf8))
    await server.stop()
    exit(3)
}
let url = server.pageURL(mode: mode, key: browserKey, passphrase: browserPassphrase, autostart: true, syntheticMedia: syntheticMedia)
print("headless \(browserKind) opens \(withoutFragment(url))"
      + (PrivateNetwork.current.map { " in a private network namespace (ICE on \($0))" } ?? ""))
let browser = try HeadlessBrowser(browserKind, url: url)
let start = Date()
var rotated = false
while Date().timeIntervalSince(start) < seconds {
    try await Task.sleep(for: .seconds(1))
    if let rotateAfter, !rotated, Date().timeIntervalSince(start) >= rotateAfter {
        rotated = server.requestKeyRotation()
    }
    if !browser.isRunning { break }
}
let report = server.report
print(summary(report))
browser.stop()
await server.stop()
let page = report.browser, peer = report.gstreamer
let decodedBothWays = page["video.receive.framesDecoded"] > 0 && page["audio.receive.decrypted"] + (mode == .negate ? page["audio.receive.frames"] : 0) > 0
    && peer["video.receive.framesDecoded"] > 0 && peer["audio.receive.framesDecoded"] > 0
print(decodedBothWays ? "both ends decoded video and audio from each other" : "NOT decoded both ways")
exit(decodedBothWays ? 0 : 1)
