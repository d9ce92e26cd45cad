import TemplateTransforms
import TransformModuleKit

/// The module's entry point, the one symbol libhats-module.so exports: the plugin calls it once
/// after loading the library and registers the transforms it describes.
@_cdecl("insertable_streams_module")
public func insertableStreamsModule(_ host: UnsafePointer<ISMHost>?) -> UnsafePointer<ISMModule>? {
    TransformModule.describe(name: "hats-module", version: "1.0.0", transforms: [Hats.self, Trailer.self], host: host)
}
