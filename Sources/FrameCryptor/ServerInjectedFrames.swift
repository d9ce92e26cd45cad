/// LiveKit's server-injected frames (SIF).
enum ServerInjectedFrames {
    /// SHA-256 of the blank frames a LiveKit server injects.
    static let blankFrameDigests: [[UInt8]] = []
}
