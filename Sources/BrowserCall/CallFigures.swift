// The figures both ends of a call report: the page's (sent over the signalling socket every
// 500 ms) and the GStreamer peer's (its counters and its transforms' `sframe-stats` or
// `framecryptor-stats`).
import CGStreamer
import Foundation
import WebRTCLoopback

/// Numbers by dotted path, e.g. `video.receive.decrypted`, `audio.send.encrypted`,
/// `video.receive.framesDecoded`; key ids by path, e.g. `video.receive.keyIds`.
public struct CallFigures: Sendable, Equatable, CustomStringConvertible {
    public var numbers: [String: Int] = [:]
    public var keyIDs: [String: [Int]] = [:]
    public var strings: [String: String] = [:]

    public init() {}

    /// The number at `path`, 0 when absent.
    public subscript(_ path: String) -> Int { numbers[path] ?? 0 }

    /// Flattens a JSON object: numbers and booleans into `numbers`, arrays of numbers into
    /// `keyIDs`, strings into `strings`.
    init(json object: [String: Any], prefix: String = "") {
        flatten(object, prefix: prefix)
    }

    private mutating func flatten(_ object: [String: Any], prefix: String) {
        for (name, value) in object {
            let path = prefix.isEmpty ? name : "\(prefix).\(name)"
            switch value {
            case let nested as [String: Any]: flatten(nested, prefix: path)
            case let number as NSNumber: numbers[path] = number.intValue
            case let list as [Any]: keyIDs[path] = list.compactMap { ($0 as? NSNumber)?.intValue }
            case let text as String: strings[path] = text
            default: break
            }
        }
    }

    /// `path=value` lines, sorted, for logs and failure messages.
    public var description: String {
        let lines = numbers.map { "\($0.key)=\($0.value)" } + keyIDs.map { "\($0.key)=\($0.value)" }
            + strings.map { "\($0.key)=\($0.value)" }
        return lines.sorted().joined(separator: " ")
    }
}

/// The GStreamer peer's figures now: frames sent/received/decoded per kind, and per transform
/// the last `sframe-stats` or `framecryptor-stats` reply (send: `encrypted`, `no-key`, `key-id`;
/// receive: `decrypted`, `authentication`, `keyID`, `syntax`, `replay`, `key-ids`, ...; for
/// framecryptor its own kinds, `missing-key`, `key-invalidated`, ...), under `<kind>.<side>.`,
/// plus `<kind>.<side>.ratchetSteps`: the steps of its `framecryptor-ratchet` messages, summed.
func peerFigures(of peer: RemotePeer) -> CallFigures {
    var figures = CallFigures()
    let statistics = peer.statistics()
    for (kind, stream) in [("video", statistics.video), ("audio", statistics.audio)] {
        figures.numbers["\(kind).send.frames"] = stream.framesSent
        if kind == "video" { figures.numbers["video.send.keyFrames"] = stream.keyFramesSent }
        figures.numbers["\(kind).receive.frames"] = stream.framesReceived
        figures.numbers["\(kind).receive.framesDecoded"] = stream.framesDecoded
        figures.numbers["\(kind).send.keyFrameRequests"] = stream.keyFrameRequests
    }
    /// "send_video_transform" -> "video.send"
    func prefix(_ element: Substring) -> String? {
        let parts = element.split(separator: "_")
        guard parts.count == 3 else { return nil }
        return "\(parts[1]).\(parts[0] == "recv" ? "receive" : "send")"
    }
    var latest: [Substring: String] = [:]
    for message in peer.transformMessages {
        guard let colon = message.range(of: ": ") else { continue }
        let element = message[..<colon.lowerBound], text = String(message[colon.upperBound...])
        if text.hasPrefix("sframe-stats") || text.hasPrefix("framecryptor-stats") {
            latest[element] = text
        } else if text.hasPrefix("framecryptor-ratchet"), let prefix = prefix(element) {
            let steps = structureFields(text).first { $0.0 == "steps" }.flatMap { Int($0.1) } ?? 1
            figures.numbers["\(prefix).ratchetSteps", default: 0] += steps
        }
    }
    for (element, text) in latest {
        guard let prefix = prefix(element) else { continue }
        for (name, value) in structureFields(text) {
            if let number = Int(value) {
                figures.numbers["\(prefix).\(name)"] = number
            } else if name == "key-ids" {
                figures.keyIDs["\(prefix).keyIds"] = value.split(separator: ",").compactMap { Int($0) }
            }
        }
    }
    return figures
}

/// The fields of a GstStructure text as strings (numbers in decimal).
func structureFields(_ text: String) -> [(String, String)] {
    guard let structure = gst_structure_from_string(text, nil) else { return [] }
    defer { gst_structure_free(structure) }
    var fields: [(String, String)] = []
    for index in 0..<gst_structure_n_fields(structure) {
        guard let name = gst_structure_nth_field_name(structure, guint(index)),
              let value = gst_structure_get_value(structure, name) else { continue }
        let text: String
        if let string = gst_structure_get_string(structure, name) {
            text = String(cString: string)
        } else {
            var converted = GValue()
            g_value_init(&converted, swift_type_int64())
            defer { g_value_unset(&converted) }
            guard g_value_transform(value, &converted) != 0 else { continue }
            text = String(g_value_get_int64(&converted))
        }
        fields.append((String(cString: name), text))
    }
    return fields
}
