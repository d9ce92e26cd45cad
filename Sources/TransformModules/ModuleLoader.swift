import CTransformModule
import EncodedStreams
import GStreamerBridge
import Glibc
import MediaStreams
import Synchronization

/// Loads transform modules (shared libraries speaking `insertable_streams_module.h`) and
/// registers their transforms with the catalogs `worker` reads, so that
/// `GST_INSERTABLE_STREAMS_MODULE_PATH=/m gst-launch-1.0 ... trackprocessor worker="hats ! mirror"`
/// works with an installed plugin. What fails to load is recorded with its reason
/// (`TransformLoadProblems`): gst-inspect-1.0 and the unknown-transform error show it.
public enum TransformModules {
    /// Directories (every `*.so` in them) and files, separated by ':', as GST_PLUGIN_PATH.
    public static let pathVariable = "GST_INSERTABLE_STREAMS_MODULE_PATH"

    static let category = DebugCategory("insertablestreams-modules",
                                        description: "Transform modules: loading (GST_INSERTABLE_STREAMS_MODULE_PATH) and their log lines")

    private struct State {
        var environmentLoaded = false
        /// Paths already opened (whatever the outcome), so that each is tried once.
        var tried: Set<String> = []
        var modules: [LoadedModule] = []
    }
    private static let state = Mutex(State())

    /// A module whose transforms were registered.
    public struct LoadedModule: Sendable, Equatable {
        public let name: String
        public let version: String?
        /// The file, or "in process" for `register(named:entry:)`.
        public let location: String
        public let transforms: [String]
    }

    public static var loaded: [LoadedModule] { state.withLock { $0.modules } }

    /// Loads every module `GST_INSERTABLE_STREAMS_MODULE_PATH` names, once per process (the
    /// plugin calls this before its elements are registered, so gst-inspect-1.0 lists them).
    public static func loadFromEnvironment() {
        let first = state.withLock { state in
            defer { state.environmentLoaded = true }
            return !state.environmentLoaded
        }
        guard first, let value = getenv(pathVariable).map({ String(cString: $0) }) else { return }
        for entry in value.split(separator: ":").map(String.init) where !entry.isEmpty {
            for file in files(at: entry) { _ = try? load(path: file) }
        }
    }

    /// The module files an entry of the path names: the entry itself, or the `*.so` files of a
    /// directory in name order. A missing entry is recorded as a problem.
    private static func files(at entry: String) -> [String] {
        var status = stat()
        guard stat(entry, &status) == 0 else {
            record("\(pathVariable) entry \(entry): \(String(cString: strerror(errno)))")
            return []
        }
        guard status.st_mode & S_IFMT == S_IFDIR else { return [entry] }
        guard let directory = opendir(entry) else {
            record("\(pathVariable) entry \(entry): \(String(cString: strerror(errno)))")
            return []
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let item = readdir(directory) {
            let name = withUnsafeBytes(of: item.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name.hasSuffix(".so") { names.append(name) }
        }
        let base = entry.hasSuffix("/") ? entry : entry + "/"
        return names.sorted().map { base + $0 }
    }

    /// Opens the module at `path` and registers its transforms. Throws (and records) why when it
    /// is not a usable module; a path already tried is not opened again.
    @discardableResult
    public static func load(path: String) throws(ModuleLoadError) -> LoadedModule? {
        let new = state.withLock { $0.tried.insert(path).inserted }
        guard new else { return nil }
        do throws(ModuleLoadError) {
            guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
                let reason = dlerror().map { String(cString: $0) } ?? "dlopen failed"
                throw ModuleLoadError("module \(path) could not be opened: \(reason)")
            }
            guard let symbol = dlsym(handle, ISM_ENTRY_SYMBOL) else {
                throw ModuleLoadError("\(path) is not a transform module: it exports no \(ISM_ENTRY_SYMBOL) function (the entry point insertable_streams_module.h describes)")
            }
            let entry = unsafeBitCast(symbol, to: ISMEntryPoint.self)
            return try register(entry: entry, location: path)
        } catch {
            record(error.description)
            throw error
        }
    }

    /// Registers the transforms of a module linked into this process (a Swift application using
    /// the same transform sources a module would): `entry` is the module's entry point.
    @discardableResult
    public static func register(entry: ISMEntryPoint, location: String = "in process") throws(ModuleLoadError) -> LoadedModule {
        guard let module = entry(ModuleHostTable.pointer) else {
            throw ModuleLoadError("module \(location) returned no description: it refused this plugin's transform module ABI version \(ISM_ABI_VERSION)")
        }
        let version = module.pointee.abi_version
        guard version == ISM_ABI_VERSION else {
            throw ModuleLoadError("module \(location) was built for transform module ABI version \(version); this plugin speaks version \(ISM_ABI_VERSION): rebuild the module against this plugin's insertable_streams_module.h (or TransformModuleKit)")
        }
        let name = module.pointee.name.map { String(cString: $0) } ?? "(unnamed)"
        let moduleVersion = module.pointee.version.map { String(cString: $0) }
        let origin = "module \(location)"
        var registered: [String] = []
        for index in 0..<Int(module.pointee.n_transforms) {
            let descriptor = module.pointee.transforms + index
            do {
                try registerTransform(ModuleTransformDescriptor(descriptor, module: name, origin: origin))
                registered.append(String(cString: descriptor.pointee.name))
            } catch {
                record(error.description)
                category.warning(error.description)
            }
        }
        let loaded = LoadedModule(name: name, version: moduleVersion, location: location, transforms: registered)
        state.withLock { $0.modules.append(loaded) }
        category.info("module \(name) \(moduleVersion ?? "") from \(location): \(registered.joined(separator: ", "))")
        return loaded
    }

    private static func registerTransform(_ descriptor: ModuleTransformDescriptor) throws(ModuleLoadError) {
        try descriptor.validate()
        let name = descriptor.name
        let existing = TransformRegistry.descriptor(named: name).map(\.listing)
            ?? EncodedTransformRegistry.descriptor(named: name).map(\.listing)
        if let existing {
            throw ModuleLoadError("\(descriptor.origin): transform '\(name)' is not registered: the name is taken by \(existing.contains("(") ? existing : "the built-in transform " + existing)")
        }
        switch descriptor.frames {
        case nil:
            break  // validate() refused it
        case .raw:
            TransformRegistry.register(TransformDescriptor(
                name: name, summary: descriptor.summary, parameters: descriptor.parameters, origin: descriptor.origin,
                factory: { parameters, context in try ModuleRawTransformer(descriptor, parameters: parameters, context: context) }))
        case .encoded:
            EncodedTransformRegistry.register(EncodedTransformDescriptor(
                name: name, summary: descriptor.summary, parameters: descriptor.parameters, origin: descriptor.origin,
                factory: { parameters, context in try ModuleEncodedTransformer(descriptor, parameters: parameters, context: context) }))
        }
    }

    private static func record(_ problem: String) {
        TransformLoadProblems.record(problem)
        category.warning(problem)
    }
}

/// Why a module could not be loaded or one of its transforms registered.
public struct ModuleLoadError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
