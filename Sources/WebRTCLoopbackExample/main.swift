// webrtc-loopback: two webrtcbin peers in one process, test video and audio from A to B through
// optional encoded-frame transforms, with per-second figures and a pass/fail exit status.
//
//   webrtc-loopback [--codec vp8|h264|none] [--no-audio] [--seconds N]
//                   [--send-transform DESC|none] [--receive-transform DESC|none] [--json] [--dump-stats]
//                   [--request-keyframe N]
//                   [--sframe [--suite NAME] [--key HEX] [--receive-key HEX] [--rotate-key N]]
//
// Exit status: 0 when, after a 2 s warm-up, intact frames >= 90 % of the frames sent (video and
// audio), 1 otherwise, 2 on a pipeline or negotiation error, 64 on a usage error.
// WEBRTC_LOOPBACK_DEBUG=1 prints the signalling (SDP, candidates) to stderr.
import CGStreamer
import CGStreamerWebRTC
import Glibc
import InsertableStreams
import WebRTCLoopback

let usage = """
    usage: webrtc-loopback [--codec vp8|h264|none] [--no-audio] [--seconds N]
                           [--send-transform DESC|none] [--receive-transform DESC|none] [--json] [--dump-stats]
                           [--request-keyframe N]   (every N s, as a decoder would: PLI/FIR from receiver to sender)
                           [--sframe [--suite NAME] [--key HEX] [--receive-key HEX] [--rotate-key N]]
      transforms default to "\(LoopbackConfiguration.defaultTransform)"; "none" means no element
      --sframe: end-to-end encryption (SFrame, RFC 9605) on both peers instead, key ids 1 (video) and 2 (audio)
        (one per sender: shared key ids would repeat nonces), from
        --key (default \(LoopbackConfiguration.demoKey)); --receive-key gives the receiver
        another key (a wrong key decodes nothing); --rotate-key N distributes a new key every N s
        (receivers first, then senders, then the old key is removed); --suite e.g. AES_128_CTR_HMAC_SHA256_80
    """

func fail(_ message: String, status: Int32) -> Never {
    let text = message + "\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
    exit(status)
}

// MARK: - options

var configuration = LoopbackConfiguration(videoCodec: .vp8, audio: true)
var sendTransform: String? = LoopbackConfiguration.defaultTransform
var receiveTransform: String? = LoopbackConfiguration.defaultTransform
var seconds = 10
var json = false
var dumpStats = false
var keyFrameInterval = 0
var sframe = false
var sframeKey = LoopbackConfiguration.demoKey
var sframeReceiveKey: String?
var sframeSuite: String?
var rotationInterval = 0

var arguments = CommandLine.arguments.dropFirst()
@MainActor func value(for option: String) -> String {
    guard let value = arguments.popFirst() else { fail("\(option) needs a value\n\(usage)", status: 64) }
    return value
}
while let argument = arguments.popFirst() {
    switch argument {
    case "--codec":
        let name = value(for: argument)
        if name == "none" {
            configuration.videoCodec = nil
        } else if let codec = VideoCodec(rawValue: name) {
            configuration.videoCodec = codec
        } else {
            fail("unknown codec \(name)\n\(usage)", status: 64)
        }
    case "--no-audio": configuration.audio = false
    case "--seconds":
        guard let number = Int(value(for: argument)), number > 0 else { fail("--seconds needs a positive integer", status: 64) }
        seconds = number
    case "--send-transform":
        let description = value(for: argument)
        sendTransform = description == "none" ? nil : description
    case "--receive-transform":
        let description = value(for: argument)
        receiveTransform = description == "none" ? nil : description
    case "--json": json = true
    case "--dump-stats": dumpStats = true
    case "--request-keyframe":
        guard let number = Int(value(for: argument)), number > 0 else { fail("--request-keyframe needs a positive integer", status: 64) }
        keyFrameInterval = number
    case "--sframe": sframe = true
    case "--key": sframeKey = value(for: argument)
    case "--receive-key": sframeReceiveKey = value(for: argument)
    case "--suite": sframeSuite = value(for: argument)
    case "--rotate-key":
        guard let number = Int(value(for: argument)), number > 0 else { fail("--rotate-key needs a positive integer", status: 64) }
        rotationInterval = number
    case "--help", "-h":
        print(usage)
        exit(0)
    default: fail("unknown option \(argument)\n\(usage)", status: 64)
    }
}
if configuration.videoCodec == nil && !configuration.audio { fail("nothing to send (--codec none --no-audio)", status: 64) }
/// SFrame key id of a kind's sender in key generation `generation` (1, 2, ...): video 2g-1,
/// audio 2g. Two senders must never share a key id: their counters would repeat nonces.
func sframeKeyID(_ kind: String, generation: UInt64) -> UInt64 { 2 * generation - (kind == "video" ? 1 : 0) }

if sframe {
    sendTransform = nil
    receiveTransform = nil
    for kind in ["video", "audio"] {
        let keyID = sframeKeyID(kind, generation: 1)
        let send = LoopbackConfiguration.sframeTransform(key: sframeKey, keyID: keyID, suite: sframeSuite)
        let receive = LoopbackConfiguration.sframeTransform(key: sframeReceiveKey ?? sframeKey, keyID: keyID, suite: sframeSuite)
        if kind == "video" {
            (configuration.sendVideoTransform, configuration.receiveVideoTransform) = (send, receive)
        } else {
            (configuration.sendAudioTransform, configuration.receiveAudioTransform) = (send, receive)
        }
    }
} else if sframeReceiveKey != nil || sframeSuite != nil || rotationInterval > 0 {
    fail("--key, --receive-key, --suite and --rotate-key go with --sframe", status: 64)
}
if !sframe { configuration.setTransforms(send: sendTransform, receive: receiveTransform) }

// MARK: - run

gst_init(nil, nil)
InsertableStreams.registerElements()

let loopback: WebRTCLoopback
do {
    loopback = try WebRTCLoopback(configuration)
    try loopback.start()
} catch {
    fail("webrtc-loopback: \(error)", status: 2)
}

// MARK: - SFrame keys

let transformNames = ["send_video_transform", "send_audio_transform", "recv_video_transform", "recv_audio_transform"]
let receiverNames = transformNames.filter { $0.hasPrefix("recv") }
let senderNames = transformNames.filter { $0.hasPrefix("send") }
var generation: UInt64 = 1

/// The key of a generation for the rotation demo: the base key with its last byte replaced.
@MainActor func rotationKey(_ generation: UInt64) -> String {
    String(sframeKey.dropLast(2)) + String(String(UInt8(truncatingIfNeeded: generation), radix: 16).leftPadded(2).map { $0 == " " ? "0" : $0 })
}

/// What a key server does: the receivers get the new key first, the senders switch once it
/// has arrived, the old key goes away a second later (frames still in flight need it).
@MainActor func rotateKeys() {
    let old = generation
    generation += 1
    let key = rotationKey(generation)
    func command(_ name: String, _ element: String) -> String {
        let kind = element.contains("video") ? "video" : "audio"
        return "\(name), key-id=(guint64)\(sframeKeyID(kind, generation: generation)), key=(string)\(key)"
    }
    for name in receiverNames { loopback.postMessage(to: name, command("add-key", name)) }
    g_usleep(100_000)
    for name in senderNames { loopback.postMessage(to: name, command("set-key", name)) }
    pendingRemoval = old
    if !json { print("  key rotation: generation \(old) -> \(generation) (key ids video \(sframeKeyID("video", generation: generation)), audio \(sframeKeyID("audio", generation: generation)))") }
}
var pendingRemoval: UInt64?

/// The transforms' `sframe-stats` replies, one line each.
@MainActor func sframeStatistics() -> [String] {
    let before = loopback.transformMessages.count
    for name in transformNames { loopback.postMessage(to: name, "get-stats") }
    g_usleep(300_000)
    return loopback.transformMessages.dropFirst(before).filter { $0.contains("sframe-stats") }.sorted()
}

@MainActor func line(_ statistics: LoopbackStatistics) -> String {
    var parts = ["\(String(Int(statistics.elapsed.rounded())).leftPadded(3))s"]
    if configuration.videoCodec != nil {
        let v = statistics.video
        parts.append("video sent \(v.framesSent) (key \(v.keyFramesSent)) recv \(v.framesReceived) (key \(v.keyFramesReceived))"
                     + " dec \(v.framesDecoded) intact \(v.intactFrames) pli \(v.pliCount) fir \(v.firCount) nack \(v.nackCount) kfr \(v.keyFrameRequests)")
    }
    if configuration.audio {
        let a = statistics.audio
        parts.append("audio sent \(a.framesSent) recv \(a.framesReceived) dec \(a.framesDecoded) intact \(a.intactFrames)")
    }
    return parts.joined(separator: " | ")
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}

let warmUp = seconds > 2 ? 2 : 0
let startedAt = g_get_monotonic_time()
var warmUpSnapshot = LoopbackStatistics()
var reportedMessages = 0
var second = 0
runLoop: while second < seconds {
    second += 1
    while g_get_monotonic_time() < startedAt + gint64(second) * 1_000_000 {
        if loopback.hasFailed { break runLoop }
        g_usleep(20_000)
    }
    let statistics = loopback.statistics()
    if second == warmUp { warmUpSnapshot = statistics }
    if keyFrameInterval > 0 && second % keyFrameInterval == 0 && !loopback.requestKeyFrame() && !json {
        print("  (key frame request not handled)")
    }
    if let old = pendingRemoval {
        for name in receiverNames {
            loopback.postMessage(to: name, "remove-key, key-id=(guint64)\(sframeKeyID(name.contains("video") ? "video" : "audio", generation: old))")
        }
        pendingRemoval = nil
    }
    if rotationInterval > 0 && second % rotationInterval == 0 && second < seconds { rotateKeys() }
    let messages = loopback.errors
    for message in messages.dropFirst(reportedMessages) where !json { print("  \(message)") }
    reportedMessages = messages.count
    if !json { print(line(statistics)) }
}

let final = loopback.statistics()
let sframeReport = sframe ? sframeStatistics() : []
let report = dumpStats ? loopback.senderStatsReport() : nil
loopback.stop()

if loopback.hasFailed {
    let messages = loopback.errors.filter { $0.hasPrefix("error:") }
    if json {
        print(#"{"status":2,"errors":[\#(messages.map(jsonString).joined(separator: ","))]}"#)
    }
    fail("webrtc-loopback: pipeline error:\n  " + messages.joined(separator: "\n  "), status: 2)
}

// MARK: - verdict

let measured = final - warmUpSnapshot
func passes(_ figures: StreamStatistics) -> Bool {
    figures.framesSent > 0 && Double(figures.intactFrames) >= 0.9 * Double(figures.framesSent)
}
let videoOK = configuration.videoCodec == nil || passes(measured.video)
let audioOK = !configuration.audio || passes(measured.audio)
let status: Int32 = videoOK && audioOK ? 0 : 1

func jsonString(_ text: String) -> String {
    var escaped = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": escaped += "\\\""
        case "\\": escaped += "\\\\"
        case "\n": escaped += "\\n"
        case _ where scalar.value < 0x20: escaped += "\\u" + String(String(scalar.value, radix: 16).leftPadded(4).map { $0 == " " ? "0" : $0 })
        default: escaped.unicodeScalars.append(scalar)
        }
    }
    return escaped + "\""
}

func jsonObject(_ figures: StreamStatistics) -> String {
    let fields: [(String, Int)] = [
        ("framesSent", figures.framesSent), ("keyFramesSent", figures.keyFramesSent),
        ("framesReceived", figures.framesReceived), ("keyFramesReceived", figures.keyFramesReceived),
        ("framesDecoded", figures.framesDecoded), ("intactFrames", figures.intactFrames),
        ("pliCount", figures.pliCount), ("firCount", figures.firCount), ("nackCount", figures.nackCount),
        ("keyFrameRequests", figures.keyFrameRequests),
    ]
    return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
}

func ratio(_ figures: StreamStatistics) -> String {
    String(Double(Int(figures.intactRatio * 10_000)) / 10_000)
}

if json {
    var members = [
        "\"status\":\(status)",
        "\"codec\":\(jsonString(configuration.videoCodec?.rawValue ?? "none"))",
        "\"audio\":\(configuration.audio)",
        "\"seconds\":\(seconds)", "\"warmUpSeconds\":\(warmUp)",
        "\"sendTransform\":\(sendTransform.map(jsonString) ?? "null")",
        "\"receiveTransform\":\(receiveTransform.map(jsonString) ?? "null")",
        "\"total\":{\"video\":\(jsonObject(final.video)),\"audio\":\(jsonObject(final.audio))}",
        "\"afterWarmUp\":{\"video\":\(jsonObject(measured.video)),\"audio\":\(jsonObject(measured.audio))}",
        "\"videoIntactRatio\":\(ratio(measured.video))", "\"audioIntactRatio\":\(ratio(measured.audio))",
        "\"warnings\":[\(loopback.errors.map(jsonString).joined(separator: ","))]",
    ]
    if let report { members.append("\"senderStats\":\(jsonString(report))") }
    if sframe { members.append("\"sframe\":[\(sframeReport.map(jsonString).joined(separator: ","))]") }
    print("{" + members.joined(separator: ",") + "}")
} else {
    print("summary (after a \(warmUp) s warm-up):")
    if configuration.videoCodec != nil {
        let v = measured.video
        print("  video \(configuration.videoCodec!.rawValue): sent \(v.framesSent) (key \(v.keyFramesSent)), received \(v.framesReceived)"
              + " (key \(v.keyFramesReceived)), decoded \(v.framesDecoded), intact \(v.intactFrames) = \(ratio(v)),"
              + " PLI \(final.video.pliCount) FIR \(final.video.firCount) NACK \(final.video.nackCount)"
              + " key frame requests at the encoder \(final.video.keyFrameRequests) (whole run)"
              + (videoOK ? "" : "  FAILED"))
        print("    last colours: \(loopback.lastReceivedSample(video: true))")
    }
    if configuration.audio {
        let a = measured.audio
        print("  audio opus: sent \(a.framesSent), received \(a.framesReceived), decoded \(a.framesDecoded),"
              + " intact \(a.intactFrames) = \(ratio(a))" + (audioOK ? "" : "  FAILED")
              + "; last crossing rate \(loopback.lastReceivedSample(video: false))")
    }
    if let report { print("sender get-stats:\n\(report)") }
    if sframe {
        print("sframe (whole run):")
        for line in sframeReport { print("  \(line)") }
    }
    print(status == 0 ? "PASS" : "FAIL")
}
exit(status)
