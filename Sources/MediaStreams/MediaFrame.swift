import CGStreamer
import GStreamerBridge
import Synchronization

/// One chunk of a track: what a processor's readable yields and a generator's writable accepts.
public enum MediaFrame: Sendable {
    case video(VideoFrame)
    case audio(AudioData)

    public var kind: TrackKind {
        switch self {
        case .video: .video
        case .audio: .audio
        }
    }

    /// The frame object's identity (one frame, whichever case holds it).
    package var identity: ObjectIdentifier {
        switch self {
        case .video(let video): ObjectIdentifier(video)
        case .audio(let audio): ObjectIdentifier(audio)
        }
    }
    /// Presentation timestamp in microseconds.
    public var timestamp: Int64 {
        switch self {
        case .video(let frame): frame.timestamp
        case .audio(let data): data.timestamp
        }
    }
    public func close() {
        switch self {
        case .video(let frame): frame.close()
        case .audio(let data): data.close()
        }
    }
    package var timing: FrameTiming {
        switch self {
        case .video(let frame): frame.timing
        case .audio(let data): data.timing
        }
    }
}

/// `kind` of a track: MediaStreamTrack.kind.
public enum TrackKind: String, Sendable, CaseIterable, PropertyEnum {
    case video, audio

    /// `trackgenerator`'s `kind` property.
    public static var gTypeName: String { "GstTrackGeneratorKind" }
    public var summary: String { self == .video ? "Video track (VideoFrame)" : "Audio track (AudioData)" }
}

/// Errors of frame objects, with the WebCodecs wording where there is one.
public enum MediaFrameError: Error, CustomStringConvertible, Equatable {
    case closed(String)
    case invalidArgument(String)
    case mapFailed(String)

    public var description: String {
        switch self {
        case .closed(let what): "InvalidStateError: \(what) is closed and can no longer be used"
        case .invalidArgument(let why): "TypeError: \(why)"
        case .mapFailed(let why): "could not map the frame's memory: \(why)"
        }
    }
}

/// Where a frame sits on the GStreamer timeline, kept exact (nanoseconds) so that a generator
/// can restore the processor's buffer timestamps even when the two run in different pipelines.
package struct FrameTiming: Sendable {
    /// The GstBuffer PTS, nanoseconds.
    package var pts: UInt64?
    package var duration: UInt64?
    /// Absolute clock time of the frame's running time (running time + base time of the
    /// processor's pipeline), or nil when the frame was not captured from a pipeline.
    package var clockTime: UInt64?

    package init(pts: UInt64? = nil, duration: UInt64? = nil, clockTime: UInt64? = nil) {
        self.pts = pts
        self.duration = duration
        self.clockTime = clockTime
    }

    package static func microseconds(_ nanoseconds: UInt64?) -> Int64? {
        nanoseconds.map { Int64($0 / 1000) }
    }
}

/// Counts GstBuffers held by live frames: tests use it to prove nothing leaks.
public enum MediaFrameStatistics {
    package static let live = Atomic<Int>(0)
    public static var liveFrames: Int { live.load(ordering: .relaxed) }
}

/// The GstBuffer a frame owns, released exactly once (on close or deinit). Stored inline in its
/// frame (noncopyable: no allocation and no reference counting of its own per frame).
package struct OwnedBuffer: ~Copyable, @unchecked Sendable {
    /// The pointer is only read or replaced under the mutex.
    private struct Slot: @unchecked Sendable { var buffer: UnsafeMutablePointer<GstBuffer>? }
    private let state: Mutex<Slot>

    /// Takes ownership of one reference to `buffer`.
    package init(_ buffer: UnsafeMutablePointer<GstBuffer>) {
        state = Mutex(Slot(buffer: buffer))
        MediaFrameStatistics.live.add(1, ordering: .relaxed)
    }

    deinit { release() }

    package var isReleased: Bool { state.withLock { $0.buffer == nil } }

    /// The buffer, borrowed. Nil once released.
    package var pointer: UnsafeMutablePointer<GstBuffer>? { state.withLock { $0.buffer } }

    /// Makes the buffer writable in place (copying only when it is shared) and returns it.
    package func makeWritable() -> UnsafeMutablePointer<GstBuffer>? {
        state.withLock { slot in
            guard let current = slot.buffer else { return nil }
            if swift_buffer_is_writable(current) == 0 { slot.buffer = swift_buffer_make_writable(current) }
            return slot.buffer
        }
    }

    /// Swaps in `replacement` (transfer full) and drops the old buffer.
    package func replace(with replacement: UnsafeMutablePointer<GstBuffer>) {
        let old = state.withLock { slot in
            defer { slot.buffer = replacement }
            return slot.buffer
        }
        if let old { gst_buffer_unref(old) } else { MediaFrameStatistics.live.add(1, ordering: .relaxed) }
    }

    /// A new reference to the buffer (transfer full), or nil once released.
    package func newReference() -> UnsafeMutablePointer<GstBuffer>? {
        state.withLock { slot in slot.buffer.map { gst_buffer_ref($0) } }
    }

    /// Gives up the frame's reference: returns it (transfer full) to the caller.
    package func take() -> UnsafeMutablePointer<GstBuffer>? {
        let buffer = state.withLock { slot in
            defer { slot.buffer = nil }
            return slot.buffer
        }
        if buffer != nil { MediaFrameStatistics.live.subtract(1, ordering: .relaxed) }
        return buffer
    }

    package func release() {
        if let buffer = take() { gst_buffer_unref(buffer) }
    }
}
