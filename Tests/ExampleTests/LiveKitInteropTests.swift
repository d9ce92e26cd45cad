import BrowserCall
import Foundation
import XCTest

/// LiveKit's frame format between the page (framecryptor.js, `?e2ee=livekit`) and the GStreamer
/// peer (`rtpscripttransform worker="framecryptor profile=livekit"`, VP8 through
/// `rtpvp8e2eepay`), in Chromium and in Firefox (in a private network namespace): both
/// directions, audio and video; a ratchet of the GStreamer peer's send keys that the page's
/// receivers follow through their ratchet window, and one of the page's that the GStreamer
/// receivers follow, without a refused frame or a decoding gap; a mismatched passphrase refused
/// on both ends. Skipped, with the reason, while the plugin has no `framecryptor` transform or a
/// browser cannot run.
final class LiveKitInteropTests: BrowserCallTestCase {
    func testChromiumLiveKitBothWaysThenRatchetsWithoutAGap() async throws {
        guard try await runsHereWithFrameCryptor(.chromium) else { return }
        try await liveKitBothWaysThenRatchets(.chromium)
    }

    func testChromiumLiveKitMismatchedPassphraseRefusedOnBothEnds() async throws {
        guard try await runsHereWithFrameCryptor(.chromium) else { return }
        try await mismatchedKeysRefusedOnBothEnds(.chromium, mode: .livekit)
    }

    func testFirefoxLiveKitBothWaysThenRatchetsWithoutAGap() async throws {
        guard try await runsHereWithFrameCryptor(.firefox) else { return }
        try await liveKitBothWaysThenRatchets(.firefox)
    }

    func testFirefoxLiveKitMismatchedPassphraseRefusedOnBothEnds() async throws {
        guard try await runsHereWithFrameCryptor(.firefox) else { return }
        try await mismatchedKeysRefusedOnBothEnds(.firefox, mode: .livekit)
    }

    /// `runsHere`, after skipping when the plugin has no framecryptor (checked before a child
    /// process is started for Firefox).
    private func runsHereWithFrameCryptor(_ kind: BrowserKind, test: String = #function) async throws -> Bool {
        _ = ExampleEnvironment.ready
        if let reason = CallMode.livekit.unavailableReason { throw XCTSkip(reason) }
        return try await runsHere(kind, test: test)
    }

    /// One call: LiveKit's format both ways, then the GStreamer senders ratchet (the page
    /// follows), then the page's senders ratchet (GStreamer follows).
    private func liveKitBothWaysThenRatchets(_ kind: BrowserKind) async throws {
        let server = try await startCall(kind, mode: .livekit)
        let flowing = await waitFor(40) { Self.flowingBothWays($0, frames: 40) }
        XCTAssertTrue(flowing, "media did not flow both ways, decrypted and decoded:" + diagnostics())
        guard flowing else { return }
        var report = server.report
        XCTAssertEqual(report.mode, "livekit")
        XCTAssertEqual(report.api, "script-transform", "\(kind) should use RTCRtpScriptTransform")
        XCTAssertEqual(Self.refusals(report).values.reduce(0, +), 0, "\(Self.refusals(report))" + diagnostics())
        // The page decoded GStreamer's 320x240 VP8 (10/3 bytes clear, through rtpvp8e2eepay).
        XCTAssertEqual(report.browser["video.receive.frameWidth"], 320, diagnostics())
        XCTAssertEqual(report.browser["video.receive.frameHeight"], 240, diagnostics())
        try assertE2EEPayloader(report)
        for kind in Self.kinds {
            XCTAssertGreaterThan(report.gstreamer["\(kind).send.encrypted"], 0, kind + diagnostics())
            XCTAssertGreaterThan(report.browser["\(kind).send.encrypted"], 0, kind + diagnostics())
            XCTAssertEqual(report.browser["\(kind).send.keyId"], 0, "the page sends with key index 0" + diagnostics())
        }

        // 1. The GStreamer peer's senders ratchet key index 0; the page's receivers fail with
        //    their key, find the next step of the ratchet in their window and adopt it.
        XCTAssertTrue(server.ratchetSendKeys(gstreamer: true, page: false))
        let followed = await waitFor(15) { report in
            report.gstreamerRatchets == 1 && report.browser["video.receive.ratchets"] >= 1 && report.browser["audio.receive.ratchets"] >= 1
        }
        XCTAssertTrue(followed, "the page's receivers did not follow GStreamer's ratchet:" + diagnostics())
        let afterGStreamerRatchet = server.report
        try await Task.sleep(for: .seconds(3))
        report = server.report
        XCTAssertEqual(Self.refusals(report).values.reduce(0, +), 0, "refusals after GStreamer's ratchet: \(Self.refusals(report))" + diagnostics())
        XCTAssertEqual(report.browser["video.receive.ratchets"], 1, "one step, once" + diagnostics())
        XCTAssertEqual(report.browser["audio.receive.ratchets"], 1, "one step, once" + diagnostics())
        assertStillDecoding(since: afterGStreamerRatchet, now: report)

        // 2. The page's senders ratchet; the GStreamer receivers follow.
        XCTAssertTrue(server.ratchetSendKeys(gstreamer: false, page: true))
        let pageRatcheted = await waitFor(15) { report in
            report.pageRatchets == 1 && report.browser["video.send.ratchets"] == 1 && report.browser["audio.send.ratchets"] == 1
        }
        XCTAssertTrue(pageRatcheted, "the page did not ratchet its send keys:" + diagnostics())
        let afterPageRatchet = server.report
        try await Task.sleep(for: .seconds(3))
        report = server.report
        XCTAssertEqual(Self.refusals(report).values.reduce(0, +), 0, "refusals after the page's ratchet: \(Self.refusals(report))" + diagnostics())
        // Each GStreamer receiver adopted one ratchet step (framecryptor-ratchet, steps=1).
        for kind in Self.kinds {
            XCTAssertEqual(report.gstreamer["\(kind).receive.ratchetSteps"], 1, "GStreamer \(kind) receiver" + diagnostics())
            XCTAssertEqual(report.gstreamer["\(kind).receive.ratchets-adopted"], 1, "GStreamer \(kind) receiver" + diagnostics())
        }
        XCTAssertEqual(report.gstreamer["video.receive.dropped-awaiting-key-frame"], 0, diagnostics())
        assertStillDecoding(since: afterPageRatchet, now: report)
        XCTAssertFalse(report.peer?.hasFailed ?? true, "GStreamer peer: \(report.peer?.errors ?? [])")
    }
}
