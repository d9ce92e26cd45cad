import CGStreamer
import CGStreamerCheck
import InsertableStreams
import XCTest

/// `rtpvp8e2eepay`: the VP8 payloader that reads only the 3-byte frame tag, so it carries frames
/// encrypted in the browsers' layout (`sframe clear=web`), which `rtpvp8pay` refuses.
final class RtpVP8E2EEPayTests: XCTestCase {
    override func setUp() { _ = TestEnvironment.ready }

    static let caps = "video/x-vp8, width=(int)320, height=(int)240, framerate=(fraction)30/1"

    /// A frame whose tag says key (bit 0 of byte 0 clear) or delta, followed by bytes no VP8
    /// parser would accept (as after encryption).
    static func frame(key: Bool, size: Int, seed: Int = 0) -> [UInt8] {
        precondition(size >= 3)
        let tag: [UInt8] = key ? [0x50, 0x42, 0x00] : [0x51, 0x0c, 0x00]
        return tag + (0..<(size - 3)).map { UInt8(truncatingIfNeeded: ($0 &+ seed) &* 131 &+ 7) }
    }

    /// One RTP packet taken apart (RFC 3550 header, RFC 7741 descriptor as far as we write it).
    struct Packet {
        let size: Int
        let marker: Bool
        let payloadType: UInt8
        let sequenceNumber: UInt16
        let timestamp: UInt32
        let payload: [UInt8]
        let pts: UInt64
        let duration: UInt64
        let isDelta: Bool
        let hasMarkerFlag: Bool

        init(_ buffer: UnsafeMutablePointer<GstBuffer>) {
            var bytes = [UInt8](repeating: 0, count: Int(gst_buffer_get_size(buffer)))
            _ = bytes.withUnsafeMutableBytes { gst_buffer_extract(buffer, 0, $0.baseAddress, gsize($0.count)) }
            size = bytes.count
            marker = bytes[1] & 0x80 != 0
            payloadType = bytes[1] & 0x7f
            sequenceNumber = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
            timestamp = bytes[4..<8].reduce(0) { $0 << 8 | UInt32($1) }
            var headerLength = 12 + 4 * Int(bytes[0] & 0x0f)
            if bytes[0] & 0x10 != 0 {
                headerLength += 4 + 4 * (Int(bytes[headerLength + 2]) << 8 | Int(bytes[headerLength + 3]))
            }
            payload = Array(bytes[headerLength...])
            pts = UInt64(swift_buffer_pts(buffer))
            duration = UInt64(swift_buffer_duration(buffer))
            let flags = swift_buffer_flags(buffer).rawValue
            isDelta = flags & GST_BUFFER_FLAG_DELTA_UNIT.rawValue != 0
            hasMarkerFlag = flags & GST_BUFFER_FLAG_MARKER.rawValue != 0
        }

        /// X, N, S, PID of the first descriptor byte.
        var extended: Bool { payload[0] & 0x80 != 0 }
        var nonReference: Bool { payload[0] & 0x20 != 0 }
        var start: Bool { payload[0] & 0x10 != 0 }
        var partitionID: UInt8 { payload[0] & 0x0f }
    }

    private func pullAll(_ harness: HarnessTests.Harness) -> [Packet] {
        var packets: [Packet] = []
        while let buffer = gst_harness_try_pull(harness.pointer) {
            packets.append(Packet(buffer))
            gst_buffer_unref(buffer)
        }
        return packets
    }

    private func intProperty(_ element: UnsafeMutablePointer<GstElement>, _ name: String) -> Int32 {
        var value = GValue()
        g_value_init(&value, swift_type_int())
        defer { g_value_unset(&value) }
        g_object_get_property(UnsafeMutableRawPointer(element).assumingMemoryBound(to: GObject.self), name, &value)
        return g_value_get_int(&value)
    }

    // MARK: (a) one element in a GstHarness

    /// Browsers' descriptor (X=1, N=0, S=1 on the first packet only, PID 0, I=1, M=1, 15-bit
    /// picture ID), one picture ID per frame counting up from picture-id-offset, the marker on the
    /// last packet, every packet within the MTU, the frame reassembled byte for byte, timestamps
    /// and the key/delta flags as rtpvp8pay sets them.
    func testPacketsCarryTheBrowsersDescriptorWithinTheMTU() throws {
        let harness = try HarnessTests.Harness("rtpvp8e2eepay name=pay mtu=200 pt=101 picture-id-offset=1000", caps: Self.caps)
        XCTAssertEqual(intProperty(harness.element("pay"), "picture-id"), 1000)
        let frames = [Self.frame(key: true, size: 1000), Self.frame(key: false, size: 450, seed: 1),
                      Self.frame(key: false, size: 100, seed: 2), Self.frame(key: true, size: 2345, seed: 3)]
        var lastSequence: UInt16?
        var timestamps: [UInt32] = []
        for (index, frame) in frames.enumerated() {
            let pts = UInt64(index) * 33_333_333
            XCTAssertEqual(harness.push(frame, pts: pts, duration: 33_333_333), GST_FLOW_OK)
            let packets = pullAll(harness)
            let isKey = frame[0] & 1 == 0
            let maxPayload = 200 - 12 - 4
            XCTAssertEqual(packets.count, (frame.count + maxPayload - 1) / maxPayload, "frame \(index): as few packets as the MTU allows")
            for (number, packet) in packets.enumerated() {
                let context = "frame \(index) packet \(number)"
                XCTAssertLessThanOrEqual(packet.size, 200, context)
                XCTAssertEqual(packet.payloadType, 101, context)
                XCTAssertEqual(packet.marker, number == packets.count - 1, "\(context): marker only on the last packet")
                XCTAssertEqual(packet.hasMarkerFlag, packet.marker, context)
                let pictureID = UInt16(1000 + index)
                let expected: [UInt8] = [0x80 | (number == 0 ? 0x10 : 0), 0x80, 0x80 | UInt8(pictureID >> 8), UInt8(pictureID & 0xff)]
                XCTAssertEqual(Array(packet.payload.prefix(4)), expected, "\(context): X=1 S=\(number == 0) PID=0, I=1, M=1, picture ID \(pictureID)")
                XCTAssertEqual(packet.isDelta, !(isKey && number == 0), context)
                XCTAssertEqual(packet.pts, pts, context)
                XCTAssertEqual(packet.duration, 33_333_333, context)
                if let lastSequence { XCTAssertEqual(packet.sequenceNumber, lastSequence &+ 1, context) }
                lastSequence = packet.sequenceNumber
            }
            XCTAssertEqual(Set(packets.map(\.timestamp)).count, 1, "frame \(index): one RTP timestamp per frame")
            timestamps.append(packets[0].timestamp)
            XCTAssertEqual(packets.flatMap { $0.payload.dropFirst(4) }, frame, "frame \(index): reassembled byte for byte")
            let sizes = packets.map(\.payload.count)
            XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1, "frame \(index): packets of equal size \(sizes)")
        }
        XCTAssertTrue((2999...3000).contains(timestamps[1] &- timestamps[0]), "90 kHz clock: \(timestamps)")
        XCTAssertEqual(intProperty(harness.element("pay"), "picture-id"), 1004)
    }

    func testPictureIDModesAndWrapAround() throws {
        let none = try HarnessTests.Harness("rtpvp8e2eepay name=pay mtu=100 picture-id-mode=none", caps: Self.caps)
        XCTAssertEqual(none.push(Self.frame(key: true, size: 300), pts: 0), GST_FLOW_OK)
        let plain = pullAll(none)
        XCTAssertEqual(plain.map { $0.payload[0] }, [0x10] + Array(repeating: 0x00, count: plain.count - 1), "X=0: one descriptor byte")
        XCTAssertEqual(plain.flatMap { $0.payload.dropFirst() }, Self.frame(key: true, size: 300))
        XCTAssertTrue(plain.allSatisfy { $0.size <= 100 })

        let seven = try HarnessTests.Harness("rtpvp8e2eepay mtu=100 picture-id-mode=7-bit picture-id-offset=126", caps: Self.caps)
        var ids: [UInt8] = []
        for index in 0..<3 {
            XCTAssertEqual(seven.push(Self.frame(key: index == 0, size: 50), pts: UInt64(index) * 33_333_333), GST_FLOW_OK)
            let packets = pullAll(seven)
            XCTAssertEqual(packets.count, 1)
            XCTAssertEqual(Array(packets[0].payload.prefix(2)), [0x90, 0x80], "X=1 S=1; I=1")
            ids.append(packets[0].payload[2])
        }
        XCTAssertEqual(ids, [126, 127, 0], "7-bit picture IDs (M=0) wrap at 127")

        let fifteen = try HarnessTests.Harness("rtpvp8e2eepay picture-id-offset=32767", caps: Self.caps)
        var wide: [UInt16] = []
        for index in 0..<2 {
            XCTAssertEqual(fifteen.push(Self.frame(key: false, size: 20), pts: UInt64(index)), GST_FLOW_OK)
            let payload = try XCTUnwrap(pullAll(fifteen).first).payload
            wide.append(UInt16(payload[2] & 0x7f) << 8 | UInt16(payload[3]))
        }
        XCTAssertEqual(wide, [32767, 0], "15-bit picture IDs wrap at 32767")

        // Default: 15-bit, random start (two elements almost surely differ; each is < 2^15).
        let first = try HarnessTests.Harness("rtpvp8e2eepay name=pay", caps: Self.caps)
        let second = try HarnessTests.Harness("rtpvp8e2eepay name=pay", caps: Self.caps)
        let starts = [intProperty(first.element("pay"), "picture-id"), intProperty(second.element("pay"), "picture-id")]
        XCTAssertTrue(starts.allSatisfy { (0...0x7fff).contains($0) })
        XCTAssertEqual(first.push(Self.frame(key: true, size: 10), pts: 0), GST_FLOW_OK)
        let payload = try XCTUnwrap(pullAll(first).first).payload
        XCTAssertEqual(Int32(payload[2] & 0x7f) << 8 | Int32(payload[3]), starts[0])
        XCTAssertEqual(payload[2] & 0x80, 0x80, "M=1 by default")
    }

    /// The smallest MTU the base class allows still fits: 12-byte RTP header + 4-byte descriptor.
    func testTinyMTU() throws {
        let harness = try HarnessTests.Harness("rtpvp8e2eepay mtu=28", caps: Self.caps)
        let frame = Self.frame(key: true, size: 100)
        XCTAssertEqual(harness.push(frame, pts: 0), GST_FLOW_OK)
        let packets = pullAll(harness)
        XCTAssertEqual(packets.count, 9)
        XCTAssertTrue(packets.allSatisfy { $0.size <= 28 })
        XCTAssertEqual(packets.flatMap { $0.payload.dropFirst(4) }, frame)
        XCTAssertEqual(packets.filter(\.start).count, 1)
    }

    /// Shorter than a frame tag: skipped with a warning, counted, and the stream goes on.
    /// Gaps and flushes move the picture ID on, as rtpvp8pay does.
    func testShortFramesAreSkippedAndGapsAdvanceThePictureID() throws {
        let harness = try HarnessTests.Harness("rtpvp8e2eepay name=pay picture-id-offset=10", caps: Self.caps)
        let bus = gst_bus_new()!
        defer { gst_object_unref(UnsafeMutableRawPointer(bus)) }
        gst_element_set_bus(harness.pointer.pointee.element, bus)
        defer { gst_element_set_bus(harness.pointer.pointee.element, nil) }
        let pay = harness.element("pay")

        XCTAssertEqual(harness.push([0x50, 0x42], pts: 0), GST_FLOW_OK)
        XCTAssertEqual(harness.push([], pts: 1), GST_FLOW_OK)
        XCTAssertTrue(pullAll(harness).isEmpty)
        XCTAssertEqual(harness.counter(pay, "skipped-frames"), 2)
        let message = try XCTUnwrap(gst_bus_pop_filtered(bus, GST_MESSAGE_WARNING), "a warning was posted")
        var error: UnsafeMutablePointer<GError>?
        var debug: UnsafeMutablePointer<gchar>?
        gst_message_parse_warning(message, &error, &debug)
        let text = String(cString: error!.pointee.message)
        g_error_free(error)
        g_free(debug)
        gst_message_unref(message)
        XCTAssertTrue(text.contains("Skipped a 2-byte buffer: a VP8 frame starts with a 3-byte frame tag"), text)
        XCTAssertNil(gst_bus_pop_filtered(bus, GST_MESSAGE_WARNING), "at most one warning a second")
        XCTAssertEqual(intProperty(pay, "picture-id"), 10, "skipped buffers take no picture ID")

        XCTAssertEqual(harness.push(Self.frame(key: false, size: 3), pts: 2), GST_FLOW_OK)
        let packets = pullAll(harness)
        XCTAssertEqual(packets.count, 1)
        XCTAssertEqual(packets[0].payload, [0x90, 0x80, 0x80, 10] + Self.frame(key: false, size: 3))
        XCTAssertTrue(packets[0].marker)

        XCTAssertNotEqual(gst_harness_push_event(harness.pointer, gst_event_new_gap(GstClockTime(40_000_000), GstClockTime(33_333_333))), 0)
        XCTAssertEqual(intProperty(pay, "picture-id"), 12, "a gap skips a picture ID")
        XCTAssertNotEqual(gst_harness_push_event(harness.pointer, gst_event_new_flush_start()), 0)
        XCTAssertNotEqual(gst_harness_push_event(harness.pointer, gst_event_new_flush_stop(1)), 0)
        XCTAssertEqual(intProperty(pay, "picture-id"), 13, "a flush skips a picture ID")
        // After a flush the stream needs a segment again (set_src_caps pushes caps and a segment).
        gst_harness_set_src_caps_str(harness.pointer, Self.caps)
        XCTAssertEqual(harness.push(Self.frame(key: true, size: 30), pts: 100_000_000), GST_FLOW_OK)
        let afterFlush = pullAll(harness)
        XCTAssertEqual(afterFlush.count, 1)
        XCTAssertEqual(afterFlush.first?.payload[3], 13)
    }

    // MARK: (b) real pipelines

    static let key = "000102030405060708090a0b0c0d0e0f"
    static func sframe(_ side: String, name: String) -> String {
        "rtpscripttransform name=\(name) side=\(side) worker=\"sframe clear=web\" options=\"sframe,key=(string)\(key),key-id=(guint64)1\""
    }
    static let source = "videotestsrc num-buffers=45 pattern=ball ! video/x-raw,width=160,height=120,framerate=30/1 ! vp8enc deadline=1"

    /// Encoder → sframe (browser layout: 10/3 bytes clear) → rtpvp8e2eepay mtu=400 →
    /// rtpvp8depay → sframe → decoder: every picture decodes identical to a direct decode.
    func testEncryptedWebLayoutRoundTripDecodesEveryPicture() throws {
        let pipeline = try TestPipeline("""
            \(Self.source) ! tee name=t
            t. ! queue ! identity name=plain ! vp8dec ! fakesink name=reference
            t. ! queue ! \(Self.sframe("send", name: "sender")) ! identity name=encrypted ! rtpvp8e2eepay name=pay mtu=400 ! \
            rtpvp8depay ! \(Self.sframe("receive", name: "receiver")) ! vp8dec ! fakesink name=out
            """)
        let plain = pipeline.collect("plain"), encrypted = pipeline.collect("encrypted")
        // Packets leave as one buffer list per frame: seen once on the payloader's src pad (a
        // probe on a sink pad without a chain-list function would see each packet twice).
        let wire = pipeline.collect("pay", pad: "src"), reference = pipeline.collect("reference"), output = pipeline.collect("out")
        XCTAssertTrue(pipeline.runToEnd(timeout: 60), "\(pipeline.messages)")
        XCTAssertTrue(pipeline.errors.isEmpty && pipeline.warnings.isEmpty, "\(pipeline.messages)")

        XCTAssertEqual(reference.count, 45)
        XCTAssertEqual(output.count, 45, "every picture decodes")
        XCTAssertTrue(zip(reference.buffers, output.buffers).allSatisfy { $0.bytes == $1.bytes }, "decoded pictures identical")
        XCTAssertEqual(pipeline.uint64("receiver", "written-frames"), 45)
        XCTAssertFalse(pipeline.messages.contains { $0.structure.hasPrefix("sframe-error") }, "\(pipeline.messages)")

        // The payloader got frames encrypted after the browsers' 10 (key) / 3 (delta) bytes.
        XCTAssertEqual(encrypted.count, 45)
        var changed = 0
        for (original, sent) in zip(plain.buffers, encrypted.buffers) {
            let clear = original.isDelta ? 3 : 10
            XCTAssertEqual(Array(sent.bytes.prefix(clear)), Array(original.bytes.prefix(clear)))
            if Array(sent.bytes.dropFirst(clear).prefix(original.bytes.count - clear)) != Array(original.bytes.dropFirst(clear)) { changed += 1 }
        }
        XCTAssertEqual(changed, 45, "every frame encrypted beyond its tag")

        // On the wire: packets within the MTU, one S bit and one marker per frame.
        XCTAssertGreaterThan(wire.count, 45, "large frames span packets")
        XCTAssertTrue(wire.buffers.allSatisfy { $0.bytes.count <= 400 }, "mtu=400 respected")
        XCTAssertEqual(wire.buffers.filter { $0.bytes[12] & 0x10 != 0 }.count, 45)
        XCTAssertEqual(wire.buffers.filter { $0.bytes[1] & 0x80 != 0 }.count, 45)
        XCTAssertTrue(wire.buffers[0].caps.contains("encoding-name=(string)VP8"), wire.buffers[0].caps)
    }

    /// Why the element exists: the same pipeline with the stock payloader fails.
    func testStockRtpvp8payRefusesTheSameFrames() throws {
        let pipeline = try TestPipeline("""
            \(Self.source) ! \(Self.sframe("send", name: "sender")) ! rtpvp8pay mtu=400 ! rtpvp8depay ! \
            \(Self.sframe("receive", name: "receiver")) ! vp8dec ! fakesink name=out
            """)
        let output = pipeline.collect("out")
        XCTAssertFalse(pipeline.runToEnd(timeout: 60))
        XCTAssertTrue(pipeline.errors.contains { $0.source.hasPrefix("rtpvp8pay") && $0.text.contains("Could not encode stream") },
                      "\(pipeline.errors)")
        // Random bits after the clear bytes sometimes pass its parser (a frame or two decode
        // before one fails), so the stream stops somewhere in the first frames, not at a fixed one.
        XCTAssertLessThan(output.count, 45)
    }

    /// Unencrypted VP8 through both payloaders decodes the same pictures (rtpvp8pay with
    /// partition-aware packets, ours with one partition per frame).
    func testPlainVP8DecodesLikeTheStockPayloader() throws {
        let pipeline = try TestPipeline("""
            \(Self.source) token-partitions=2 ! tee name=t
            t. ! queue ! rtpvp8pay mtu=300 ! rtpvp8depay ! vp8dec ! fakesink name=stock
            t. ! queue ! rtpvp8e2eepay mtu=300 ! rtpvp8depay ! vp8dec ! fakesink name=ours
            """)
        let stock = pipeline.collect("stock"), ours = pipeline.collect("ours")
        XCTAssertTrue(pipeline.runToEnd(timeout: 60), "\(pipeline.messages)")
        XCTAssertEqual(stock.count, 45)
        XCTAssertEqual(ours.count, 45)
        XCTAssertTrue(zip(stock.buffers, ours.buffers).allSatisfy { $0.bytes == $1.bytes })
    }

    /// The built plugin as gst-inspect shows it: a GstRTPBasePayload subclass with the base
    /// class's properties and rtpvp8pay's picture-id names.
    func testInspectShowsAPayloader() throws {
        let plugin = try PluginTests.run("/usr/bin/gst-inspect-1.0", ["insertablestreams"])
        XCTAssertTrue(plugin.output.contains("rtpvp8e2eepay: RTP VP8 payloader for encrypted frames"), plugin.output)
        let inspect = try PluginTests.run("/usr/bin/gst-inspect-1.0", ["rtpvp8e2eepay"])
        XCTAssertEqual(inspect.status, 0, inspect.output)
        for expected in ["Codec/Payloader/Network/RTP", "+----GstRTPBasePayload", "+----GstRtpVP8E2EEPay", "video/x-vp8",
                         "encoding-name: VP8", "clock-rate: 90000", "picture-id-mode", "(2): 15-bit", "Default: 2, \"15-bit\"",
                         "picture-id-offset", "Range: -1 - 32767 Default: -1", "skipped-frames", "mtu", "seqnum-offset", "timestamp-offset",
                         "ssrc", "stats", "auto-header-extension"] {
            XCTAssertTrue(inspect.output.contains(expected), "gst-inspect rtpvp8e2eepay lacks: \(expected)")
        }
    }

    /// GStreamer's leaks tracer over a gst-launch run of the encrypted pipeline (and a stream
    /// that ends early): nothing left alive.
    func testLeaksTracerFindsNothing() throws {
        let pipelines = [
            "\(Self.source) ! \(Self.sframe("send", name: "s")) ! rtpvp8e2eepay mtu=300 ! rtpvp8depay ! \(Self.sframe("receive", name: "r")) ! vp8dec ! fakesink",
            "\(Self.source) ! rtpvp8e2eepay picture-id-mode=7-bit ! fakesink num-buffers=5",
        ]
        for pipeline in pipelines {
            // gst-launch arguments as a shell splits them: whitespace outside double quotes.
            var arguments = ["-q"], current = "", quoted = false
            for character in pipeline {
                if character == "\"" { quoted.toggle() } else if character == " " && !quoted {
                    if !current.isEmpty { arguments.append(current); current = "" }
                } else { current.append(character) }
            }
            if !current.isEmpty { arguments.append(current) }
            let result = try PluginTests.run("/usr/bin/gst-launch-1.0", arguments,
                                             environment: ["GST_TRACERS": "leaks", "GST_DEBUG": "GST_TRACER:7"])
            XCTAssertEqual(result.status, 0, "\(pipeline): \(result.output.suffix(800))")
            XCTAssertTrue(result.output.contains("object-alive.class"), "the leaks tracer did not run: \(result.output.suffix(500))")
            let leaks = result.output.split(separator: "\n").filter { $0.contains("object-alive, type-name=") && !$0.contains("format string") }
            XCTAssertEqual(leaks.count, 0, "\(pipeline):\n\(leaks.prefix(10).joined(separator: "\n"))")
        }
    }
}
