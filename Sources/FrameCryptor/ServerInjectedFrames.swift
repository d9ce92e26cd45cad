/// LiveKit's server-injected frames (SIF): when a publisher's encrypted track has no media yet,
/// the LiveKit server sends blank frames, unencrypted, ending in a per-room trailer it announces
/// at join (`sif_trailer`). A receiver strips the trailer and passes the frame on only if the
/// rest is one of these blank frames, byte for byte; anything else ending in the trailer is an
/// unauthenticated frame and is dropped.
///
/// The list is client-sdk-js's (`sifPayload.ts`: the VP8 8x8 key frame, Opus silence and the
/// bare H.264 SPS / PPS / IDR NAL units it hashes) plus what GStreamer's depayloaders make of the
/// server's blanks and newer libwebrtc accepts: Annex B H.264 (SPS + PPS + IDR, or IDR alone,
/// 4-byte start codes), Opus silence behind a RED header, 160 bytes of G.711 silence.
enum ServerInjectedFrames {
    static let vp8KeyFrame8x8: [UInt8] = [
        0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x08, 0x00, 0x08, 0x00, 0x00, 0x47, 0x08, 0x85, 0x85, 0x88,
        0x85, 0x84, 0x88, 0x02, 0x02, 0x00, 0x0c, 0x0d, 0x60, 0x00, 0xfe, 0xff, 0xab, 0x50, 0x80,
    ]
    static let h264SPS: [UInt8] = [
        0x67, 0x42, 0xc0, 0x1f, 0x0f, 0xd9, 0x1f, 0x88, 0x88, 0x84, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00,
        0x00, 0x03, 0x00, 0xc8, 0x3c, 0x60, 0xc9, 0x20,
    ]
    static let h264PPS: [UInt8] = [0x68, 0x87, 0xcb, 0x83, 0xcb, 0x20]
    static let h264IDR: [UInt8] = [0x65, 0x88, 0x84, 0x0a, 0xf2, 0x62, 0x80, 0x00, 0xa7, 0xbe]
    static let opusSilence: [UInt8] = [0xf8, 0xff, 0xfe] + [UInt8](repeating: 0, count: 77)
    static let startCode: [UInt8] = [0, 0, 0, 1]

    static let blankFrames: [[UInt8]] = [
        vp8KeyFrame8x8,
        h264SPS, h264PPS, h264IDR,
        startCode + h264SPS + startCode + h264PPS + startCode + h264IDR,
        startCode + h264IDR,
        opusSilence,
        [0x6f] + opusSilence,  // RED header (F=0, PT 111) + Opus silence
        [UInt8](repeating: 0xff, count: 160),  // PCMU silence
        [UInt8](repeating: 0xd5, count: 160),  // PCMA silence
    ]

    static func isKnownBlank(_ frame: UnsafeRawBufferPointer) -> Bool {
        blankFrames.contains { blank in blank.count == frame.count && blank.withUnsafeBytes { $0.elementsEqual(frame) } }
    }
}
