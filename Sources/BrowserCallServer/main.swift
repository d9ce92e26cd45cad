// browser-call: serves the E2EE call page and runs the GStreamer peer each page calls.
//
//   browser-call [--host ADDR] [--port N] [--key HEX] [--loopback-ice] [--vp8-partitions N] [--vp8-layout gstreamer|web] [--testdata DIR]
//                [--headless-browser [--mode sframe|negate] [--browser-key HEX] [--seconds N] [--rotate-after N]
//                                    [--synthetic-media]]
//
// Without --headless-browser it prints the address to open and runs until interrupted, printing
// both ends' figures every 2 s during a call. With it, it calls itself from headless Chromium
// (fake camera and microphone) for --seconds and exits 0 when both ends decoded both kinds.
import BrowserCall
import CGStreamer
import Foundation
import InsertableStreams
import WebRTCLoopback

let usage = """
    usage: browser-call [--host ADDR] [--port N] [--key HEX] [--loopback-ice] [--vp8-partitions 1|2|4|8] [--vp8-layout gstreamer|web] [--testdata DIR]
                        [--headless-browser [--mode sframe|negate] [--browser-key HEX] [--seconds N] [--rotate-after N]
                                            [--synthetic-media]]
      --host/--port   where to listen (default 127.0.0.1:8080; the page needs http://127.0.0.1 or localhost)
      --key           the GStreamer peer's base key, hex >= 16 bytes (default \(LoopbackConfiguration.demoKey));
                      the page takes its key from the address's #key= fragment
      --loopback-ice  gather ICE candidates on 127.0.0.1 only (browsers started with --allow-loopback-in-peer-connection)
      --vp8-layout    clear bytes of the GStreamer peer's VP8: gstreamer (default: header, first partition and partition
                      table, through rtpvp8pay) or web (10/3 bytes as browsers send, through rtpvp8e2eepay)
      --testdata      folder of sframe-test-vectors.json for the page's self test /selftest.html (default ../shared/testdata)
      --headless-browser  call from headless Chromium for --seconds (default 12), print the figures, exit 0 when
                      both ends decoded video and audio from the other (1 otherwise); --browser-key gives the page
                      another key (then nothing decodes), --rotate-after N rotates the key from the page after N s,
                      --synthetic-media makes the page send a drawn pattern and a tone instead of the fake devices
    """

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(64)
}

var configuration = CallServerConfiguration()
var headless = false
var mode = CallMode.sframe
var browserKey: String?
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
    case "--loopback-ice": configuration.loopbackICEOnly = true
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
        guard let chosen = CallMode(rawValue: name) else { fail("--mode takes sframe or negate, not \(name)") }
        mode = chosen
    case "--browser-key": browserKey = value(for: argument)
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
if headless, configuration.port == 8080 { configuration.port = 0 }  // any free port
// The page's self test (/selftest.html) fetches the RFC 9605 vectors from ../shared/testdata.
if configuration.testDataDirectory == nil, FileManager.default.fileExists(atPath: "../shared/testdata/sframe-test-vectors.json") {
    configuration.testDataDirectory = "../shared/testdata"
}
configuration.log = { line in print("[call] \(line)") }

gst_init(nil, nil)
guard InsertableStreams.registerElements() else { fail("cannot register the insertable-streams elements") }

/// Both ends' figures on one line per kind.
func summary(_ report: CallReport) -> String {
    let page = report.browser, peer = report.gstreamer
    var lines: [String] = []
    for kind in ["video", "audio"] {
        let decoded = kind == "video" ? "video.receive.framesDecoded" : "audio.receive.totalSamplesReceived"
        lines.append("\(kind): GStreamer→page encrypted \(peer["\(kind).send.encrypted"]) decrypted \(page["\(kind).receive.decrypted"])"
                     + " failed \(page["\(kind).receive.failed"]) (\(kind == "video" ? "frames decoded" : "samples") \(page[decoded]));"
                     + " page→GStreamer encrypted \(page["\(kind).send.encrypted"]) decrypted \(peer["\(kind).receive.decrypted"])"
                     + " failed \(peer["\(kind).receive.authentication"] + peer["\(kind).receive.keyID"] + peer["\(kind).receive.syntax"])"
                     + " (frames decoded \(peer["\(kind).receive.framesDecoded"]))")
    }
    return lines.joined(separator: "\n")
}

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
        Open \(server.pageURL()) in Chromium (or \(server.pageURL(mode: .negate)) for the negate check).
        The page's key is in the address after #key=; the GStreamer peer uses --key. Ctrl-C stops.
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
if let reason = HeadlessChromium.unavailableReason() {
    FileHandle.standardError.write(Data("browser-call: headless Chromium cannot run here: \(reason)\n".utf8))
    await server.stop()
    exit(3)
}
let url = server.pageURL(mode: mode, key: browserKey, autostart: true, syntheticMedia: syntheticMedia)
print("headless Chromium opens \(url)")
let browser = try HeadlessChromium(url: url)
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
