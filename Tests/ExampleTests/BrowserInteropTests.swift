import BrowserCall
import CGStreamer
import Foundation
import WebRTCLoopback
import XCTest

/// A GStreamer peer (`rtpscripttransform` with sframe or negate, VP8 + Opus) and Debian's
/// Chromium (`RTCRtpScriptTransform` workers doing SFrame with WebCrypto) call each other over
/// loopback through `BrowserCallServer`. Both ends report their figures: the page over the
/// signalling socket, the GStreamer peer from its transforms' `sframe-stats` and frame counters.
/// Skipped, with the reason, when headless Chromium cannot run here.
final class BrowserInteropTests: XCTestCase {
    /// Why Chromium cannot run (checked once per test process), or nil.
    private static let chromiumProblem: String? = HeadlessChromium.unavailableReason()

    private var server: BrowserCallServer?
    private var browser: HeadlessChromium?

    override func tearDown() async throws {
        browser?.stop()
        await server?.stop()
        browser = nil
        server = nil
    }

    /// Starts the server on a free port and Chromium on `path` of it.
    private func startCall(mode: CallMode = .sframe, browserKey: String? = nil, syntheticMedia: Bool = false,
                           transformAPI: String? = nil, path: String = "/",
                           vp8Layout: PeerVP8Layout = .gstreamer) async throws -> BrowserCallServer {
        if let problem = Self.chromiumProblem { throw XCTSkip("headless Chromium cannot run here: \(problem)") }
        _ = ExampleEnvironment.ready
        var configuration = CallServerConfiguration()
        configuration.port = 0
        configuration.testDataDirectory = ExampleEnvironment.testdata.path
        configuration.vp8Layout = vp8Layout
        let server = BrowserCallServer(configuration)
        self.server = server
        try await server.start()
        browser = try HeadlessChromium(url: server.pageURL(mode: mode, key: browserKey, autostart: true,
                                                           syntheticMedia: syntheticMedia, transformAPI: transformAPI, path: path))
        return server
    }

    /// Polls the report until `condition` holds; false after `timeout` seconds.
    private func waitFor(_ timeout: Double, _ condition: (CallReport) -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let server, condition(server.report) { return true }
            try await Task.sleep(for: .milliseconds(250))
        }
        return false
    }

    /// Both ends' figures, the call log and Chromium's output, for failure messages.
    private func diagnostics() -> String {
        guard let report = server?.report else { return "no server" }
        let chromium = browser?.output.split(separator: "\n").suffix(30).joined(separator: "\n") ?? ""
        return """

            page: \(report.browser)
            GStreamer: \(report.gstreamer)
            log:
            \(report.log.suffix(40).joined(separator: "\n"))
            chromium:
            \(chromium)
            """
    }

    private static let kinds = ["video", "audio"]

    /// Frames both ways, both kinds: decrypted (authenticated) and decoded.
    private static func flowingBothWays(_ report: CallReport, frames: Int) -> Bool {
        let page = report.browser, peer = report.gstreamer
        return page["video.receive.decrypted"] >= frames && page["video.receive.framesDecoded"] >= frames
            && page["audio.receive.decrypted"] >= frames && page["audio.receive.totalSamplesReceived"] > 0
            && peer["video.receive.decrypted"] >= frames && peer["video.receive.framesDecoded"] >= frames
            && peer["audio.receive.decrypted"] >= frames && peer["audio.receive.framesDecoded"] >= frames
    }

    /// Refusals counted by either end, by kind.
    private static func refusals(_ report: CallReport) -> [String: Int] {
        var counts: [String: Int] = [:]
        for kind in kinds {
            counts["page \(kind)"] = report.browser["\(kind).receive.failed"]
            counts["GStreamer \(kind)"] = ["authentication", "keyID", "syntax", "replay"]
                .map { report.gstreamer["\(kind).receive.\($0)"] }.reduce(0, +)
        }
        return counts
    }

    func testSFrameBothWaysThenKeyRotationFromThePageWithoutAGap() async throws {
        let server = try await startCall()
        let flowing = try await waitFor(40) { Self.flowingBothWays($0, frames: 40) }
        XCTAssertTrue(flowing, "media did not flow both ways, decrypted and decoded:" + diagnostics())
        guard flowing else { return }
        var report = server.report
        XCTAssertEqual(report.api, "script-transform", "Chromium should use RTCRtpScriptTransform")
        XCTAssertEqual(Self.refusals(report).values.reduce(0, +), 0, "\(Self.refusals(report))" + diagnostics())
        // The page decoded GStreamer's 320x240 VP8 (its SFrame layout: header, first partition
        // and a 4-partition size table clear) and GStreamer decoded the page's 640x480 VP8.
        XCTAssertEqual(report.browser["video.receive.frameWidth"], 320, diagnostics())
        XCTAssertEqual(report.browser["video.receive.frameHeight"], 240, diagnostics())
        // Each sender has its own key id: generation 1 → GStreamer 4/5, page 6/7.
        XCTAssertEqual(report.browser["video.send.keyId"], 6)
        XCTAssertEqual(report.browser["audio.send.keyId"], 7)
        XCTAssertEqual(report.gstreamer["video.send.key-id"], 4)
        XCTAssertEqual(report.gstreamer["audio.send.key-id"], 5)
        for kind in Self.kinds {
            XCTAssertGreaterThan(report.gstreamer["\(kind).send.encrypted"], 0, kind)
            XCTAssertGreaterThan(report.browser["\(kind).send.encrypted"], 0, kind)
        }

        // Rotation, as the page's button does it: new generation, receivers first.
        let before = report
        XCTAssertTrue(server.requestKeyRotation())
        let rotated = try await waitFor(15) { report in
            report.rotations == [2] && report.browser["video.send.keyId"] == 10 && report.browser["audio.send.keyId"] == 11
                && report.gstreamer["video.send.key-id"] == 8 && report.gstreamer["audio.send.key-id"] == 9
        }
        XCTAssertTrue(rotated, "the key did not rotate on all four senders:" + diagnostics())
        let afterSwitch = server.report
        // Three more seconds under the new keys.
        try await Task.sleep(for: .seconds(3))
        report = server.report
        XCTAssertEqual(Self.refusals(report).values.reduce(0, +), 0, "refusals after rotation: \(Self.refusals(report))" + diagnostics())
        XCTAssertEqual(report.gstreamer["video.receive.dropped-awaiting-key-frame"], 0, diagnostics())
        // Half of GStreamer's 30 fps and of the 50 Opus frames per second each way; the page's
        // video only 7 fps, as Chromium's encoder may throttle on a loaded 2-core machine.
        for (path, minimum) in [("video.receive.decrypted", 45), ("video.receive.framesDecoded", 45), ("audio.receive.decrypted", 75)] {
            XCTAssertGreaterThanOrEqual(report.browser[path] - afterSwitch.browser[path], minimum, "page \(path)" + diagnostics())
        }
        for (path, minimum) in [("video.receive.decrypted", 20), ("video.receive.framesDecoded", 20), ("audio.receive.decrypted", 75), ("audio.receive.framesDecoded", 75)] {
            XCTAssertGreaterThanOrEqual(report.gstreamer[path] - afterSwitch.gstreamer[path], minimum, "GStreamer \(path)" + diagnostics())
        }
        // The page decrypted frames under GStreamer's new key ids.
        XCTAssertTrue(report.browser.keyIDs["video.receive.keyIds"]?.contains(8) ?? false, diagnostics())
        XCTAssertTrue(report.browser.keyIDs["audio.receive.keyIds"]?.contains(9) ?? false, diagnostics())
        XCTAssertGreaterThan(report.browser["video.receive.framesDecoded"], before.browser["video.receive.framesDecoded"])
    }

    func testMismatchedKeysDecodeNothingAndBothEndsCountFailures() async throws {
        let server = try await startCall(browserKey: "0f0e0d0c0b0a09080706050403020100")
        // Frames arrive both ways (the call is up) ...
        let arriving = try await waitFor(40) { report in
            report.browser["video.receive.frames"] >= 60 && report.browser["audio.receive.frames"] >= 100
                && report.gstreamer["video.receive.frames"] >= 60 && report.gstreamer["audio.receive.frames"] >= 100
        }
        XCTAssertTrue(arriving, "frames did not arrive both ways:" + diagnostics())
        try await Task.sleep(for: .seconds(2))
        let report = server.report
        // ... but none authenticates, so nothing is decoded, and both ends count every one.
        for kind in Self.kinds {
            XCTAssertEqual(report.browser["\(kind).receive.decrypted"], 0, "page \(kind)" + diagnostics())
            XCTAssertEqual(report.gstreamer["\(kind).receive.decrypted"], 0, "GStreamer \(kind)" + diagnostics())
            XCTAssertGreaterThan(report.browser["\(kind).receive.authentication"], 50, "page \(kind)" + diagnostics())
            XCTAssertGreaterThan(report.gstreamer["\(kind).receive.authentication"], 50, "GStreamer \(kind)" + diagnostics())
            XCTAssertEqual(report.gstreamer["\(kind).receive.framesDecoded"], 0, "GStreamer \(kind)" + diagnostics())
        }
        XCTAssertEqual(report.browser["video.receive.framesDecoded"], 0, diagnostics())
        XCTAssertTrue(browser?.isRunning ?? false, "Chromium crashed:" + diagnostics())
        XCTAssertFalse(report.peer?.hasFailed ?? true, "GStreamer peer: \(report.peer?.errors ?? [])")
    }

    /// GStreamer's VP8 encrypted in the browsers' own layout (10/3 bytes clear, `clear=web`) and
    /// packetized by `rtpvp8e2eepay` (rtpvp8pay refuses such frames): Chromium depacketizes,
    /// decrypts (the clear bytes are authenticated, so a layout mismatch would fail) and decodes it.
    func testSFrameWebLayoutFromGStreamerThroughTheE2EEPayloader() async throws {
        let server = try await startCall(vp8Layout: .web)
        let flowing = try await waitFor(40) { Self.flowingBothWays($0, frames: 40) }
        XCTAssertTrue(flowing, "media did not flow both ways, decrypted and decoded:" + diagnostics())
        guard flowing else { return }
        let report = server.report
        XCTAssertEqual(Self.refusals(report).values.reduce(0, +), 0, "\(Self.refusals(report))" + diagnostics())
        XCTAssertEqual(report.browser["video.receive.frameWidth"], 320, diagnostics())
        XCTAssertEqual(report.browser["video.receive.frameHeight"], 240, diagnostics())
        XCTAssertTrue(report.log.contains { $0.contains("GStreamer's VP8 layout: web") }, diagnostics())
        let payloader = try XCTUnwrap(report.peer?.element(named: "send_video_payloader"))
        XCTAssertEqual(String(cString: g_type_name(swift_type_from_instance(payloader))), "GstRtpVP8E2EEPay")
    }

    /// The page's fallback for browsers without RTCRtpScriptTransform (Chromium 86-140):
    /// createEncodedStreams() with the streams moved to the same worker.
    func testSFrameBothWaysThroughTheCreateEncodedStreamsFallback() async throws {
        let server = try await startCall(transformAPI: "encoded-streams")
        let flowing = try await waitFor(40) { Self.flowingBothWays($0, frames: 40) }
        XCTAssertTrue(flowing, "media did not flow both ways through the fallback:" + diagnostics())
        let report = server.report
        XCTAssertEqual(report.api, "encoded-streams")
        XCTAssertEqual(Self.refusals(report).values.reduce(0, +), 0, "\(Self.refusals(report))" + diagnostics())
        XCTAssertEqual(report.browser["video.receive.frameWidth"], 320, diagnostics())
    }

    /// Negate both ways, the page sending its synthetic media (what it sends without a camera).
    func testNegateBothWaysWithThePagesSyntheticMedia() async throws {
        let server = try await startCall(mode: .negate, syntheticMedia: true)
        let flowing = try await waitFor(40) { report in
            report.browser["video.receive.framesDecoded"] >= 40 && report.browser["audio.receive.frames"] >= 40
                && report.gstreamer["video.receive.framesDecoded"] >= 40 && report.gstreamer["audio.receive.framesDecoded"] >= 40
        }
        XCTAssertTrue(flowing, "negated media did not decode both ways:" + diagnostics())
        XCTAssertEqual(server.report.browser["video.receive.frameWidth"], 320, diagnostics())
        XCTAssertEqual(server.report.mode, "negate")
        XCTAssertTrue(server.report.log.contains { $0.contains("synthetic media") }, diagnostics())
    }

    /// The page's SFrame code (WebCrypto) against the RFC 9605 vectors, in Chromium.
    func testPageSFrameCodeMatchesRFC9605Vectors() async throws {
        let vectors = ExampleEnvironment.testdata.appendingPathComponent("sframe-test-vectors.json")
        guard FileManager.default.fileExists(atPath: vectors.path) else { throw XCTSkip("\(vectors.path) is missing") }
        let server = try await startCall(path: "/selftest.html")
        let finished = try await waitFor(30) { $0.selftest != nil }
        XCTAssertTrue(finished, "the self test did not report:" + diagnostics())
        let result = try XCTUnwrap(server.report.selftest)
        XCTAssertEqual(result["failed"], 0, "\(result)")
        // 289 header vectors and the two GCM suites' vectors at least.
        XCTAssertGreaterThanOrEqual(result["passed"], 291, "\(result)")
    }
}
