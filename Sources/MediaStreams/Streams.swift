/// Where a transform chain's output goes: a generator's writable (WritableStream of frames).
/// Called on the producing element's worker thread; `write` may block for back-pressure.
public protocol FrameWriter: AnyObject, Sendable {
    /// Hands `frame` over (the writer owns it afterwards). Throws when the frame cannot be
    /// accepted (wrong kind, track ended). While waiting for room the writer checks `cancelled`
    /// at least every 10 ms and gives up (dropping the frame) once it returns true.
    func write(_ frame: MediaFrame, cancelled: () -> Bool) throws
    /// Ends the track normally (EOS downstream).
    func close()
    /// Ends the track with an error.
    func abort(reason: String)
}

extension FrameWriter {
    public func write(_ frame: MediaFrame) throws { try write(frame, cancelled: { false }) }
}

/// A processor's readable as an `AsyncSequence` of frames, for Swift code that consumes frames
/// itself instead of naming a `worker`. Ends at end of stream.
public struct ReadableFrameStream: AsyncSequence, Sendable {
    public typealias Element = MediaFrame
    let ring: FrameRing

    public init(ring: FrameRing) { self.ring = ring }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let ring: FrameRing
        public mutating func next() async -> MediaFrame? { await ring.nextAsync() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(ring: ring) }
}
