import Synchronization

/// Turns Swift `ModuleTransform` types into the module C ABI's tables.
///
/// A module's whole entry point (the one symbol its shared library exports):
///
///     @_cdecl("insertable_streams_module")
///     public func insertableStreamsModule(_ host: UnsafePointer<ISMHost>?) -> UnsafePointer<ISMModule>? {
///         TransformModule.describe(name: "hats", version: "1.0", transforms: [Hats.self, Trailer.self], host: host)
///     }
///
/// A Swift application registers the same transforms in its own process by handing that
/// function to `InsertableStreams.registerModule(named:entry:)`.
public enum TransformModule {
    /// The tables for `transforms`. When `host` speaks another ABI version than this kit, the
    /// module describes no transforms and the plugin refuses it naming both versions. The tables
    /// live as long as the process.
    public static func describe(name: String, version: String? = nil, transforms: [any ModuleTransform.Type],
                                host: UnsafePointer<ISMHost>?) -> UnsafePointer<ISMModule>? {
        guard let host else { return nil }
        guard host.pointee.abi_version == ISM_ABI_VERSION else {
            let module = UnsafeMutablePointer<ISMModule>.allocate(capacity: 1)
            module.initialize(to: ISMModule(abi_version: ISM_ABI_VERSION, name: permanent(name), version: nil,
                                            n_transforms: 0, transforms: nil))
            described.withLock { $0.append(DescribedModule(module: UnsafePointer(module))) }
            return UnsafePointer(module)
        }
        let table = UnsafeMutablePointer<ISMTransform>.allocate(capacity: max(1, transforms.count))
        for (index, type) in transforms.enumerated() {
            (table + index).initialize(to: entry(for: type))
        }
        let module = UnsafeMutablePointer<ISMModule>.allocate(capacity: 1)
        module.initialize(to: ISMModule(abi_version: ISM_ABI_VERSION, name: permanent(name),
                                        version: version.map(permanent), n_transforms: UInt32(transforms.count),
                                        transforms: table))
        described.withLock { $0.append(DescribedModule(module: UnsafePointer(module))) }
        return UnsafePointer(module)
    }

    /// Every table handed out, owned here for the life of the process (the host copies what it
    /// needs and never frees them; kept reachable, a leak checker sees them as owned).
    private struct DescribedModule: @unchecked Sendable { let module: UnsafePointer<ISMModule> }
    private static let described = Mutex<[DescribedModule]>([])

    /// A C string that is never freed (the plugin never unloads modules).
    private static func permanent(_ text: String) -> UnsafePointer<CChar> {
        let utf8 = Array(text.utf8CString)
        let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count)
        pointer.initialize(from: utf8, count: utf8.count)
        return UnsafePointer(pointer)
    }

    private static func entry(for type: any ModuleTransform.Type) -> ISMTransform {
        var transform = ISMTransform()
        transform.name = permanent(type.name)
        transform.summary = permanent(type.summary)
        switch type.frames {
        case .raw(let formats, let video, let audio):
            transform.frames = UInt32(ISM_FRAMES_RAW.rawValue)
            transform.formats = formats.map { permanent($0.map(\.rawValue).joined(separator: ",")) }
            transform.raw_kinds = (video ? 1 : 0) | (audio ? 2 : 0)
        case .encoded(let mimeTypes):
            transform.frames = UInt32(ISM_FRAMES_ENCODED.rawValue)
            transform.formats = mimeTypes.map { permanent($0.joined(separator: ",")) }
        }
        let parameters = UnsafeMutablePointer<ISMParameter>.allocate(capacity: max(1, type.parameters.count))
        for (index, parameter) in type.parameters.enumerated() {
            (parameters + index).initialize(to: ISMParameter(name: permanent(parameter.name), summary: permanent(parameter.summary)))
        }
        transform.n_parameters = UInt32(type.parameters.count)
        transform.parameters = UnsafePointer(parameters)
        transform.user_data = Unmanaged.passRetained(TypeBox(type)).toOpaque()
        transform.create = { descriptor, arguments, count, errorText, errorSize in
            guard let descriptor, let userData = descriptor.pointee.user_data else { return nil }
            let type = Unmanaged<TypeBox>.fromOpaque(userData).takeUnretainedValue().type
            var values: [String: String] = [:]
            for index in 0..<Int(count) {
                guard let argument = arguments?[index], let key = argument.key else { continue }
                values[String(cString: key)] = argument.value.map { String(cString: $0) } ?? ""
            }
            do {
                let instance = try type.init(parameters: TransformParameters(transformName: type.name, values: values))
                return Unmanaged.passRetained(InstanceBox(instance)).toOpaque()
            } catch {
                TransformModule.write(error, into: errorText, size: errorSize)
                return nil
            }
        }
        transform.destroy = { instance in
            guard let instance else { return }
            Unmanaged<InstanceBox>.fromOpaque(instance).release()
        }
        transform.transform = { instance, frame, controller, errorText, errorSize in
            guard let instance, let frame, let controller else { return -1 }
            // The plugin keeps the instance until `destroy`: no reference count per frame.
            return Unmanaged<InstanceBox>.fromOpaque(instance)._withUnsafeGuaranteedRef { box in
                do {
                    try box.transform.transform(ModuleFrame(frame, controller: controller), controller: ModuleController(controller))
                    return 0
                } catch {
                    TransformModule.write(error, into: errorText, size: errorSize)
                    return -1
                }
            }
        }
        transform.flush = { instance, controller, errorText, errorSize in
            guard let instance, let controller else { return -1 }
            let box = Unmanaged<InstanceBox>.fromOpaque(instance).takeUnretainedValue()
            do {
                try box.transform.flush(controller: ModuleController(controller))
                return 0
            } catch {
                TransformModule.write(error, into: errorText, size: errorSize)
                return -1
            }
        }
        transform.message = { instance, message, controller, errorText, errorSize in
            guard let instance, let message, let controller else { return -1 }
            let box = Unmanaged<InstanceBox>.fromOpaque(instance).takeUnretainedValue()
            do {
                guard let converted = ModuleMessage.message(from: message) else {
                    throw ModuleError("a message field has a type this module does not know")
                }
                try box.transform.receive(message: converted, controller: ModuleController(controller))
                return 0
            } catch {
                TransformModule.write(error, into: errorText, size: errorSize)
                return -1
            }
        }
        return transform
    }

    /// Copies `error`'s description into the plugin's buffer, truncated at a UTF-8 boundary.
    fileprivate static func write(_ error: any Error, into buffer: UnsafeMutablePointer<CChar>?, size: Int) {
        guard let buffer, size > 0 else { return }
        var bytes = Array(String(describing: error).utf8)
        if bytes.count > size - 1 {
            bytes = Array(bytes[..<(size - 1)])
            while let last = bytes.last, last & 0xC0 == 0x80 { bytes.removeLast() }  // continuation bytes
            if let last = bytes.last, last >= 0xC0 { bytes.removeLast() }             // a lead byte left alone
        }
        for (index, byte) in bytes.enumerated() { buffer[index] = CChar(bitPattern: byte) }
        buffer[bytes.count] = 0
    }
}

private final class TypeBox: @unchecked Sendable {
    let type: any ModuleTransform.Type
    init(_ type: any ModuleTransform.Type) { self.type = type }
}

private final class InstanceBox {
    let transform: any ModuleTransform
    init(_ transform: any ModuleTransform) { self.transform = transform }
}
