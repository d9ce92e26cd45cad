import BrowserCall
import CGStreamer
import Foundation
import WebRTCLoopback
import XCTest

/// A GStreamer peer (`rtpscripttransform` with sframe or negate, VP8 + Opus) and Debian's
/// Chromium (`RTCRtpScriptTransform` workers doing SFrame with WebCrypto) call each other over
/// loopback through `BrowserCallServer`. Both ends report their figures: the page over the
/// signalling socket, the GStreamer peer from its transforms' `sframe-stats` and frame counters.
/// Skipped, with the reason, when headless Chromium cannot run here. The checks shared with
/// Firefox (FirefoxInteropTests) are the extension below.
final class BrowserInteropTests: BrowserCallTestCase {
    func testSFrameBothWaysThenKeyRotationFromThePageWithoutAGap() async throws {
        guard try await runsHere(.chromium) else { return }
        try await sframeBothWaysThenKeyRotation(.chromium)
    }

    func testMismatchedKeysDecodeNothingAndBothEndsCountFailures() async throws {
        guard try await runsHere(.chromium) else { return }
        try await mismatchedKeysRefusedOnBothEnds(.chromium, mode: .sframe)
    }

    /// GStreamer's VP8 encrypted in the browsers' own layout (10/3 bytes clear, `clear=web`) and
    /// packetized by `rtpvp8e2eepay` (rtpvp8pay refuses such frames): Chromium depacketizes,
    /// decrypts (the clear bytes are authenticated, so a layout mismatch would fail) and decodes it.
    func testSFrameWebLayoutFromGStreamerThroughTheE2EEPayloader() async throws {
        guard try await runsHere(.chromium) else { return }
        let server = try await startCall(vp8Layout: .web)
        let flowing = await waitFor(40) { Self.flowingBothWays($0, frames: 40) }
        XCTAssertTrue(flowing, "media did not flow both ways, decrypted and decoded:" + diagnostics())
        guard flowing else { return }
        let report = server.report
        XCTAssertEqual(Self.refusals(report).values.reduce(0, +), 0, "\(Self.refusals(report))" + diagnostics())
        XCTAssertEqual(report.browser["video.receive.frameWidth"], 320, diagnostics())
        XCTAssertEqual(report.browser["video.receive.frameHeight"], 240, diagnostics())
        XCTAssertTrue(report.log.contains { $0.contains("GStreamer's VP8 layout: web") }, diagnostics())
        try assertE2EEPayloader(report)
    }

    /// The page's fallback for browsers without RTCRtpScriptTransform (Chromium 86-140):
    /// createEncodedStreams() with the streams moved to the same worker.
    func testSFrameBothWaysThroughTheCreateEncodedStreamsFallback() async throws {
        guard try await runsHere(.chromium) else { return }
        let server = try await startCall(transformAPI: "encoded-streams")
        let flowing = await waitFor(40) { Self.flowingBothWays($0, frames: 40) }
        XCTAssertTrue(flowing, "media did not flow both ways through the fallback:" + diagnostics())
        let report = server.report
        XCTAssertEqual(report.api, "encoded-streams")
        XCTAssertEqual(Self.refusals(report).values.reduce(0, +), 0, "\(Self.refusals(report))" + diagnostics())
        XCTAssertEqual(report.browser["video.receive.frameWidth"], 320, diagnostics())
    }

    /// Negate both ways, the page sending its synthetic media (what it sends without a camera).
    func testNegateBothWaysWithThePagesSyntheticMedia() async throws {
        guard try await runsHere(.chromium) else { return }
        let server = try await startCall(mode: .negate, syntheticMedia: true)
        let flowing = await waitFor(40) { report in
            report.browser["video.receive.framesDecoded"] >= 40 && report.browser["audio.receive.frames"] >= 40
                && report.gstreamer["video.receive.framesDecoded"] >= 40 && report.gstreamer["audio.receive.framesDecoded"] >= 40
        }
        XCTAssertTrue(flowing, "negated media did not decode both ways:" + diagnostics())
        XCTAssertEqual(server.report.browser["video.receive.frameWidth"], 320, diagnostics())
        XCTAssertEqual(server.report.mode, "negate")
        XCTAssertTrue(server.report.log.contains { $0.contains("synthetic media") }, diagnostics())
    }

    /// The page's SFrame code (WebCrypto) against the RFC 9605 vectors, and its LiveKit code
    /// (framecryptor.js) against LiveKit's vectors, in Chromium.
    func testPageCodeMatchesRFC9605AndLiveKitVectors() async throws {
        guard try await runsHere(.chromium) else { return }
        try await pageSelfTest(.chromium)
    }
}

/// The checks both browsers run.
extension BrowserCallTestCase {
    /// SFrame both ways, both kinds, then a key rotation from the page with no refusal and
    /// decoding going on: one call.
    func sframeBothWaysThenKeyRotation(_ kind: BrowserKind) async throws {
        let server = try await startCall(kind)
        let flowing = await waitFor(40) { Self.flowingBothWays($0, frames: 40) }
        XCTAssertTrue(flowing, "media did not flow both ways, decrypted and decoded:" + diagnostics())
        guard flowing else { return }
        var report = server.report
        XCTAssertEqual(report.api, "script-transform", "\(kind) should use RTCRtpScriptTransform")
        XCTAssertEqual(Self.refusals(report).values.reduce(0, +), 0, "\(Self.refusals(report))" + diagnostics())
        // The page decoded GStreamer's 320x240 VP8 (its SFrame layout: header, first partition
        // and a 4-partition size table clear) and GStreamer decoded the page's VP8.
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
        let rotated = await waitFor(15) { report in
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
        assertStillDecoding(since: afterSwitch, now: report)
        // The page decrypted frames under GStreamer's new key ids.
        XCTAssertTrue(report.browser.keyIDs["video.receive.keyIds"]?.contains(8) ?? false, diagnostics())
        XCTAssertTrue(report.browser.keyIDs["audio.receive.keyIds"]?.contains(9) ?? false, diagnostics())
        XCTAssertGreaterThan(report.browser["video.receive.framesDecoded"], before.browser["video.receive.framesDecoded"])
    }

    /// Three seconds after `earlier`, both ends decrypted and decoded at least half of
    /// GStreamer's 30 fps and of the 50 Opus frames per second each way; the page's video only
    /// 7 fps, as the browser's encoder may throttle on a loaded 2-core machine.
    func assertStillDecoding(since earlier: CallReport, now report: CallReport, file: StaticString = #filePath, line: UInt = #line) {
        for (path, minimum) in [("video.receive.decrypted", 45), ("video.receive.framesDecoded", 45), ("audio.receive.decrypted", 75)] {
            XCTAssertGreaterThanOrEqual(report.browser[path] - earlier.browser[path], minimum, "page \(path)" + diagnostics(), file: file, line: line)
        }
        for (path, minimum) in [("video.receive.decrypted", 20), ("video.receive.framesDecoded", 20), ("audio.receive.decrypted", 75), ("audio.receive.framesDecoded", 75)] {
            XCTAssertGreaterThanOrEqual(report.gstreamer[path] - earlier.gstreamer[path], minimum, "GStreamer \(path)" + diagnostics(), file: file, line: line)
        }
    }

    /// The page with another key (sframe) or passphrase (livekit): frames arrive both ways but
    /// none authenticates, so nothing is decoded, both ends count every refusal, and both go on.
    func mismatchedKeysRefusedOnBothEnds(_ kind: BrowserKind, mode: CallMode) async throws {
        let server = try await startCall(kind, mode: mode, browserKey: "0f0e0d0c0b0a09080706050403020100",
                                         browserPassphrase: "not the GStreamer peer's passphrase")
        // Frames arrive both ways (the call is up) ...
        let arriving = await waitFor(40) { report in
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
            if mode == .sframe {
                XCTAssertGreaterThan(report.browser["\(kind).receive.authentication"], 50, "page \(kind)" + diagnostics())
                XCTAssertGreaterThan(report.gstreamer["\(kind).receive.authentication"], 50, "GStreamer \(kind)" + diagnostics())
            } else {
                // LiveKit: the first frames fail authentication (each after the ratchet window),
                // then, past the failure tolerance, the key index is refused untried.
                XCTAssertGreaterThan(report.browser["\(kind).receive.authentication"], 0, "page \(kind)" + diagnostics())
                XCTAssertGreaterThan(report.gstreamer["\(kind).receive.authentication"], 0, "GStreamer \(kind)" + diagnostics())
                XCTAssertGreaterThan(report.browser["\(kind).receive.failed"], 50, "page \(kind)" + diagnostics())
                XCTAssertGreaterThan(Self.gstreamerRefusals(report, kind), 50, "GStreamer \(kind)" + diagnostics())
            }
            XCTAssertEqual(report.gstreamer["\(kind).receive.framesDecoded"], 0, "GStreamer \(kind)" + diagnostics())
        }
        XCTAssertEqual(report.browser["video.receive.framesDecoded"], 0, diagnostics())
        XCTAssertTrue(browser?.isRunning ?? false, "\(kind) crashed:" + diagnostics())
        XCTAssertFalse(report.peer?.hasFailed ?? true, "GStreamer peer: \(report.peer?.errors ?? [])")
    }

    /// The GStreamer peer's VP8 went through `rtpvp8e2eepay`.
    func assertE2EEPayloader(_ report: CallReport, file: StaticString = #filePath, line: UInt = #line) throws {
        let payloader = try XCTUnwrap(report.peer?.element(named: "send_video_payloader"), file: file, line: line)
        XCTAssertEqual(String(cString: g_type_name(swift_type_from_instance(payloader))), "GstRtpVP8E2EEPay", file: file, line: line)
    }

    /// selftest.html in `kind`: sframe.js against the RFC 9605 vectors, framecryptor.js against
    /// LiveKit's, and both frame formats.
    func pageSelfTest(_ kind: BrowserKind) async throws {
        for name in ["sframe-test-vectors.json", "livekit-e2ee-vectors.json"] {
            let vectors = ExampleEnvironment.testdata.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: vectors.path) else { throw XCTSkip("\(vectors.path) is missing") }
        }
        let server = try await startCall(kind, path: "/selftest.html")
        let finished = await waitFor(60) { $0.selftest != nil }
        XCTAssertTrue(finished, "the self test did not report:" + diagnostics())
        let result = try XCTUnwrap(server.report.selftest)
        XCTAssertEqual(result["failed"], 0, "\(result)")
        // 289 header vectors and the two GCM suites' vectors at least.
        XCTAssertGreaterThanOrEqual(result["sframe.passed"], 291, "\(result)")
        // 2 key derivations, the 10-key ratchet chain, 23 checks of the format and ratchet.
        XCTAssertGreaterThanOrEqual(result["livekit.passed"], 26, "\(result)")
        XCTAssertEqual(result["livekit.failed"], 0, "\(result)")
    }
}
