// A private network namespace for calls with Firefox, which gathers no loopback ICE candidates:
// the call (server, GStreamer peer and browser) runs in a new network namespace that has `lo`
// and a veth pair, one end with an address from the benchmarking range (RFC 2544) and a
// default route through it. Firefox offers that address; the GStreamer peer gathers on it too.
// Nothing leaves the namespace: the veth's other end has no address and leads nowhere.
import Foundation
import Glibc

public enum PrivateNetwork {
    /// The address of the namespace's veth end, which both peers use.
    public static let address = "198.18.0.1"
    /// Set (to `address`) in the environment of what `process(running:arguments:)` starts.
    public static let environmentVariable = "BROWSER_CALL_PRIVATE_NETWORK"

    /// The private network's address when this process runs inside one made by
    /// `process(running:arguments:)` (the variable is set and the address is local), else nil.
    public static var current: String? {
        guard let value = ProcessInfo.processInfo.environment[environmentVariable], value == address,
              localIPv4Addresses().contains(value) else { return nil }
        return value
    }

    /// A process, not yet started, that runs `executable arguments` in a new network namespace
    /// set up as described above (`unshare --net`, `--map-root-user` too when not root), and a
    /// new PID namespace with its own /proc. Its environment is this process's plus `environmentVariable`. Killing
    /// it (SIGKILL) ends everything inside.
    public static func process(running executable: String, arguments: [String]) throws -> Process {
        guard let unshare = findTool("unshare") else {
            throw PrivateNetworkError("no unshare found (Debian's util-linux package): a call with Firefox needs a private network namespace")
        }
        guard let ip = findTool("ip") else {
            throw PrivateNetworkError("no ip found (Debian's iproute2 package): a call with Firefox needs a veth pair in a private network namespace")
        }
        // Runs inside the namespace, then becomes the program ("$0" "$@").
        let setUp = [
            "set -e",
            "\(ip) link set lo up",
            "\(ip) link add t0 type veth peer name t1",
            "\(ip) addr add \(address)/24 dev t0",
            "\(ip) link set t0 up",
            "\(ip) link set t1 up",
            // Without a default route Firefox gathers no candidates at all.
            "\(ip) route add default dev t0",
            "exec \"$0\" \"$@\"",
        ].joined(separator: "\n")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: unshare)
        // --pid --fork --kill-child: the program is the first process of a new PID namespace, so
        // when it ends (or unshare is killed) the kernel ends everything it left in there, a
        // browser included; no namespace outlives it.
        // --mount-proc: /proc shows that namespace. Without it, /proc/<id> names the host's
        // process of that number, and libdispatch, whose worker-pool monitor reads
        // /proc/<thread id>/stat of its threads, crashed the program ("workq: registered worker
        // exited prematurely", SIGILL) whenever one of its thread ids was no process's id outside.
        process.arguments = (getuid() == 0 ? [] : ["--map-root-user"]) + ["--net", "--pid", "--fork", "--kill-child", "--mount-proc"]
            + ["--", "/bin/sh", "-c", setUp, executable] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment[environmentVariable] = address
        process.environment = environment
        return process
    }

    /// The executable of this process (to run it again inside a namespace).
    public static var currentExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    static func findTool(_ name: String) -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/sbin:/sbin:/usr/bin:/bin"
        for directory in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
            return "\(directory)/\(name)"
        }
        return nil
    }

    static func localIPv4Addresses() -> [String] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return [] }
        defer { freeifaddrs(list) }
        var addresses: [String] = []
        var node = list
        while let current = node {
            defer { node = current.pointee.ifa_next }
            guard let address = current.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET) else { continue }
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { inet in
                var raw = inet.pointee.sin_addr
                _ = inet_ntop(AF_INET, &raw, &text, socklen_t(text.count))
            }
            addresses.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return addresses
    }
}

public struct PrivateNetworkError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
