import CGStreamer
import InsertableStreams
import XCTest

/// `rtpscripttransform` in plain pipelines: encoder -> transform -> payloader -> depayloader ->
/// transform -> decoder, bytes and pixels compared with an untransformed branch of the same
/// stream (a tee right after the encoder).
final class RtpScriptTransformTests: XCTestCase {
    override func setUp() { _ = TestEnvironment.ready }

    private static let smpte = "videotestsrc num-buffers=30 pattern=smpte ! video/x-raw,width=160,height=120,framerate=30/1"

    // MARK: negate through the stock payloaders

    /// Payloaders that hand the frame bytes through unchanged: the receive side must give back
    /// exactly the encoder's bytes, while the wire carries different ones (beyond the clear part).
    func testNegateRoundTripRestoresEveryByte() throws {
        let cases: [(name: String, encoder: String, payloading: String, clear: (CapturedBuffer) -> Int)] = [
            ("VP8", "\(Self.smpte) ! vp8enc deadline=1", "rtpvp8pay ! rtpvp8depay", { frame in
                let key = frame.bytes[0] & 1 == 0
                let firstPartition = (Int(frame.bytes[0]) | Int(frame.bytes[1]) << 8 | Int(frame.bytes[2]) << 16) >> 5
                let partitions = frame.bytes.withUnsafeBytes { VP8FrameHeader.dctPartitionCount($0) } ?? 8
                return min(frame.bytes.count, (key ? 10 : 3) + firstPartition + 3 * (partitions - 1))
            }),
            ("VP9", "\(Self.smpte) ! vp9enc deadline=1", "rtpvp9pay ! rtpvp9depay", { frame in
                frame.bytes.withUnsafeBytes { VP9FrameHeader.isKeyFrame($0) } ? 10 : 1
            }),
            ("Opus", "audiotestsrc num-buffers=50 ! opusenc", "rtpopuspay ! rtpopusdepay", { _ in 1 }),
            ("PCMU", "audiotestsrc num-buffers=20 ! mulawenc", "rtppcmupay ! rtppcmudepay", { _ in 0 }),
            ("PCMA", "audiotestsrc num-buffers=20 ! alawenc", "rtppcmapay ! rtppcmadepay", { _ in 0 }),
        ]
        for (name, encoder, payloading, clear) in cases {
            let (pay, depay) = (payloading.components(separatedBy: " ! ")[0], payloading.components(separatedBy: " ! ")[1])
            let pipeline = try TestPipeline("""
                \(encoder) ! tee name=t t. ! queue ! fakesink name=reference
                t. ! queue ! rtpscripttransform worker=negate ! identity name=wire ! \(pay) ! \(depay) ! rtpscripttransform worker=negate ! fakesink name=out
                """)
            let reference = pipeline.collect("reference"), wire = pipeline.collect("wire"), output = pipeline.collect("out")
            XCTAssertTrue(pipeline.runToEnd(), "\(name): \(pipeline.messages)")
            XCTAssertGreaterThan(reference.count, 10, name)
            XCTAssertEqual(output.count, reference.count, name)
            XCTAssertTrue(zip(reference.buffers, output.buffers).allSatisfy { $0.bytes == $1.bytes }, "\(name): restored bytes differ")
            for (original, sent) in zip(reference.buffers, wire.buffers) {
                let clearCount = clear(original)
                XCTAssertEqual(Array(sent.bytes.prefix(clearCount)), Array(original.bytes.prefix(clearCount)), "\(name): clear part changed")
                XCTAssertTrue(zip(sent.bytes.dropFirst(clearCount), original.bytes.dropFirst(clearCount)).allSatisfy { $0 == ~$1 },
                              "\(name): the rest is not negated")
            }
        }
    }

    /// H.264 and H.265: the depayloader rewrites start codes, so compare decoded pictures. With
    /// negate on both ends they are identical to a direct decode; without the receive transform
    /// they are garbage (the bytes on the wire really changed), though the decoder says nothing.
    func testNegateThroughH26xPayloadersDecodesIdentically() throws {
        var cases = [("H.264", "openh264enc", "rtph264pay", "rtph264depay", "avdec_h264")]
        if gst_element_factory_find("x265enc") != nil {
            cases.append(("H.265", "x265enc speed-preset=ultrafast tune=zerolatency ! video/x-h265,stream-format=byte-stream,alignment=au",
                          "rtph265pay", "rtph265depay", "avdec_h265"))
        }
        for (name, encoder, pay, depay, decoder) in cases {
            let decode = "\(decoder) ! videoconvert ! video/x-raw,format=RGBx"
            let pipeline = try TestPipeline("""
                \(Self.smpte) ! \(encoder) ! tee name=t
                t. ! queue ! \(decode) ! fakesink name=reference
                t. ! queue ! rtpscripttransform worker=negate ! \(pay) ! \(depay) ! rtpscripttransform worker=negate ! \(decode) ! fakesink name=out
                t. ! queue ! rtpscripttransform worker=negate side=send ! \(pay) ! \(depay) ! \(decode) ! fakesink name=undecrypted
                """)
            let reference = pipeline.collect("reference"), output = pipeline.collect("out"), garbage = pipeline.collect("undecrypted")
            XCTAssertTrue(pipeline.runToEnd(timeout: 60), "\(name): \(pipeline.messages)")
            XCTAssertEqual(reference.count, 30, name)
            XCTAssertEqual(output.count, reference.count, name)
            XCTAssertTrue(zip(reference.buffers, output.buffers).allSatisfy { $0.bytes == $1.bytes }, "\(name): decoded pictures differ")
            let intact = zip(reference.buffers, garbage.buffers).filter { meanDifference($0.bytes, $1.bytes) < 3 }.count
            XCTAssertEqual(intact, 0, "\(name): without the receive transform \(intact) of \(garbage.count) pictures still decoded correctly")
        }
    }

    func testVP8WithoutReceiveTransformDecodesGarbage() throws {
        let decode = "vp8dec ! videoconvert ! video/x-raw,format=RGBx"
        let pipeline = try TestPipeline("""
            \(Self.smpte) ! vp8enc deadline=1 ! tee name=t
            t. ! queue ! \(decode) ! fakesink name=reference
            t. ! queue ! rtpscripttransform worker=negate ! rtpvp8pay ! rtpvp8depay ! \(decode) ! fakesink name=undecrypted
            """)
        let reference = pipeline.collect("reference"), garbage = pipeline.collect("undecrypted")
        XCTAssertTrue(pipeline.runToEnd(timeout: 60), "\(pipeline.messages)")
        XCTAssertEqual(reference.count, 30)
        let intact = zip(reference.buffers, garbage.buffers).filter { meanDifference($0.bytes, $1.bytes) < 3 }.count
        XCTAssertEqual(intact, 0, "\(intact) of \(garbage.count) pictures decoded correctly without the receive transform")
    }

    /// What the stock payloaders refuse: found by test, documented in README.md.
    func testPayloadersThatParseTheirPayloadRefuseFullyNegatedFrames() throws {
        let cases = [("\(Self.smpte) ! vp8enc deadline=1", "negate clear=none", "rtpvp8pay"),
                     ("\(Self.smpte) ! vp8enc deadline=1", "negate clear=web", "rtpvp8pay"),
                     ("\(Self.smpte) ! vp9enc deadline=1", "negate clear=none", "rtpvp9pay")]
        for (encoder, worker, pay) in cases {
            let pipeline = try TestPipeline("\(encoder) ! rtpscripttransform worker=\"\(worker)\" ! \(pay) ! fakesink")
            XCTAssertFalse(pipeline.runToEnd(timeout: 30))
            XCTAssertTrue(pipeline.errors.contains { $0.source.hasPrefix(pay) && $0.text.contains("Could not encode stream") },
                          "\(pay) with \(worker): \(pipeline.errors)")
        }
    }

    // MARK: metadata

    func testSendSideMetadataPredictsThePayloadersRTPHeaders() throws {
        let pipeline = try TestPipeline("""
            \(Self.smpte) ! vp8enc deadline=1 ! rtpscripttransform worker=record options="options,name=send-vp8" \
            ! rtpvp8pay pt=100 ssrc=305419896 timestamp-offset=1000 ! fakesink name=rtp
            """)
        let packets = pipeline.collect("rtp")
        XCTAssertTrue(pipeline.runToEnd(), "\(pipeline.messages)")
        let frames = EncodedTestTransforms.frames("send-vp8")
        XCTAssertEqual(frames.count, 30)
        var packetTimestamps: [UInt32] = []
        for packet in packets.buffers.map(RTPHeader.init) where packetTimestamps.last != packet.timestamp {
            packetTimestamps.append(packet.timestamp)
        }
        XCTAssertEqual(frames.compactMap { $0.video?.rtpTimestamp }, packetTimestamps)
        XCTAssertEqual(packetTimestamps.first, 1000)
        for (index, frame) in frames.enumerated() {
            let metadata = try XCTUnwrap(frame.video)
            XCTAssertEqual(frame.side, .send)
            XCTAssertEqual(metadata.payloadType, 100)
            XCTAssertEqual(metadata.synchronizationSource, 305_419_896)
            XCTAssertEqual(metadata.width, 160)
            XCTAssertEqual(metadata.height, 120)
            XCTAssertEqual(metadata.mimeType, "video/VP8")
            XCTAssertEqual(metadata.timestamp, Int64(index) * 1_000_000 / 30)
            XCTAssertEqual(metadata.frameId, UInt64(index + 1))
        }
        XCTAssertEqual(frames.first?.type, .key)
        XCTAssertEqual(frames.dropFirst().filter { $0.type == .key }.count, 0, "vp8enc makes one key frame in 30")
    }

    func testReceiveSideMetadataComesFromThePackets() throws {
        let pipeline = try TestPipeline("""
            \(Self.smpte) ! vp8enc deadline=1 ! rtpvp8pay pt=101 ssrc=7 ! rtpvp8depay name=vdepay ! rtpscripttransform worker=record options="options,name=recv-vp8" ! fakesink
            audiotestsrc num-buffers=20 ! opusenc ! rtpopuspay pt=111 ssrc=9 ! rtpopusdepay name=adepay ! rtpscripttransform worker=record options="options,name=recv-opus" ! fakesink
            """)
        let videoPackets = pipeline.collect("vdepay"), audioPackets = pipeline.collect("adepay")
        XCTAssertTrue(pipeline.runToEnd(), "\(pipeline.messages)")
        let video = EncodedTestTransforms.frames("recv-vp8")
        XCTAssertEqual(video.count, 30)
        var firstPackets: [RTPHeader] = []
        for packet in videoPackets.buffers.map(RTPHeader.init) where firstPackets.last?.timestamp != packet.timestamp {
            firstPackets.append(packet)
        }
        XCTAssertEqual(video.map(\.side), Array(repeating: .receive, count: 30))
        XCTAssertEqual(video.compactMap { $0.video?.rtpTimestamp }, firstPackets.map(\.timestamp))
        XCTAssertEqual(Set(video.compactMap { $0.video?.synchronizationSource }), [7])
        XCTAssertEqual(Set(video.compactMap { $0.video?.payloadType }), [101])
        XCTAssertEqual(video.first?.video?.width, 160, "from the VP8 key frame header")
        XCTAssertEqual(video.first?.type, .key)
        XCTAssertEqual(video.dropFirst().first?.type, .delta)

        let audio = EncodedTestTransforms.frames("recv-opus")
        let audioHeaders = audioPackets.buffers.map(RTPHeader.init)
        XCTAssertEqual(audio.count, audioHeaders.count)
        XCTAssertEqual(audio.compactMap { $0.audio?.sequenceNumber }, audioHeaders.map(\.sequenceNumber))
        XCTAssertEqual(audio.compactMap { $0.audio?.rtpTimestamp }, audioHeaders.map(\.timestamp))
        XCTAssertEqual(Set(audio.compactMap { $0.audio?.synchronizationSource }), [9])
        XCTAssertEqual(Set(audio.compactMap { $0.audio?.payloadType }), [111])
        XCTAssertEqual(audio.first?.audio?.mimeType, "audio/opus")
    }

    // MARK: order, duplicates, failures

    func testFramesLeaveInOrderNeverTwice() throws {
        let cases: [(worker: String, written: UInt64, rejected: UInt64, failed: UInt64)] = [
            ("swap-pairs", 15, 15, 0), ("twice", 30, 30, 0), ("from-other-thread", 30, 0, 0), ("fail-odd", 15, 0, 15),
            ("negate ! swap-pairs ! negate", 15, 15, 0), ("copy", 30, 0, 0),
        ]
        for (worker, written, rejected, failed) in cases {
            let pipeline = try TestPipeline("""
                \(Self.smpte) ! vp8enc deadline=1 ! tee name=t t. ! queue ! fakesink name=reference
                t. ! queue ! rtpscripttransform name=transform worker="\(worker)" ! fakesink name=out
                """)
            let reference = pipeline.collect("reference"), output = pipeline.collect("out")
            XCTAssertTrue(pipeline.runToEnd(), "\(worker): \(pipeline.messages)")
            XCTAssertEqual(pipeline.uint64("transform", "total-frames"), 30, worker)
            XCTAssertEqual(pipeline.uint64("transform", "written-frames"), written, worker)
            XCTAssertEqual(pipeline.uint64("transform", "rejected-frames"), rejected, worker)
            XCTAssertEqual(pipeline.uint64("transform", "failed-frames"), failed, worker)
            XCTAssertEqual(UInt64(output.count), written, worker)
            let pts = output.buffers.compactMap(\.pts)
            XCTAssertEqual(pts, pts.sorted(), "\(worker): out of order")
            XCTAssertEqual(Set(pts).count, pts.count, "\(worker): duplicated")
            let expected = Dictionary(uniqueKeysWithValues: reference.buffers.map { ($0.pts ?? 0, $0.bytes) })
            XCTAssertTrue(output.buffers.allSatisfy { expected[$0.pts ?? 0] == $0.bytes }, "\(worker): bytes changed")
            if worker == "copy" {
                XCTAssertEqual(CopyWithMetadata.payloadTypes.withLock { $0 }, Array(repeating: 42, count: 30))
            }
            if failed > 0 {
                let warnings = pipeline.warnings.filter { $0.text.contains("The worker transform failed on a frame; the frame was dropped and the stream continues: test transform refuses odd encoded frames") }
                XCTAssertEqual(warnings.count, 1, "at most one warning a second: \(pipeline.warnings)")
            }
        }
    }

    // MARK: helpers

    private func meanDifference(_ a: [UInt8], _ b: [UInt8]) -> Double {
        guard a.count == b.count, !a.isEmpty else { return 255 }
        var total = 0
        for index in a.indices { total += abs(Int(a[index]) - Int(b[index])) }
        return Double(total) / Double(a.count)
    }
}

/// The fixed RTP header fields of a captured packet.
struct RTPHeader {
    let payloadType: UInt8
    let sequenceNumber: UInt16
    let timestamp: UInt32
    let ssrc: UInt32
    let marker: Bool

    init(_ packet: CapturedBuffer) {
        let b = packet.bytes
        marker = b[1] & 0x80 != 0
        payloadType = b[1] & 0x7f
        sequenceNumber = UInt16(b[2]) << 8 | UInt16(b[3])
        timestamp = UInt32(b[4]) << 24 | UInt32(b[5]) << 16 | UInt32(b[6]) << 8 | UInt32(b[7])
        ssrc = UInt32(b[8]) << 24 | UInt32(b[9]) << 16 | UInt32(b[10]) << 8 | UInt32(b[11])
    }
}
