import BrowserCall
import Foundation
import XCTest

/// Debian's Firefox ESR, headless, calls the GStreamer peer as Chromium does in
/// BrowserInteropTests: the same page, the same checks. Firefox gathers no loopback ICE
/// candidates, so each call test runs in a child test process inside a private network
/// namespace (a veth pair, 198.18.0.1, where both Firefox and the GStreamer peer gather).
/// Skipped, with the reason, when headless Firefox cannot run here.
final class FirefoxInteropTests: BrowserCallTestCase {
    /// One call: SFrame both ways (VP8 and Opus, decrypted and decoded by both ends), then a key
    /// rotation from the page without a refusal or a decoding gap.
    func testFirefoxSFrameBothWaysThenKeyRotationWithoutAGap() async throws {
        guard try await runsHere(.firefox) else { return }
        XCTAssertNotNil(PrivateNetwork.current)
        try await sframeBothWaysThenKeyRotation(.firefox)
    }

    func testFirefoxMismatchedSFrameKeysRefusedOnBothEnds() async throws {
        guard try await runsHere(.firefox) else { return }
        try await mismatchedKeysRefusedOnBothEnds(.firefox, mode: .sframe)
    }

    /// sframe.js and framecryptor.js on Firefox's WebCrypto (no call: no private network).
    func testFirefoxPageCodeMatchesRFC9605AndLiveKitVectors() async throws {
        guard try await runsHere(.firefox, privateNetwork: false) else { return }
        try await pageSelfTest(.firefox)
    }
}
