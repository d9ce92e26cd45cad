import CGStreamer
import GStreamerBridge
import XCTest

/// A test-only element exercising the bridge features the shipped elements do not use yet:
/// action signals with arguments and a return value, element-emitted signals, double properties.
final class BridgeProbeElement: ElementSubclass, HasSettings, @unchecked Sendable {
    override class var typeName: String { "GstSwiftBridgeProbe" }
    override class var metadata: ElementMetadata {
        ElementMetadata(longName: "Bridge probe", classification: "Testing", description: "tests the bridge", author: "tests")
    }
    struct Settings: ElementSettings { var ratio = 0.5 }
    override class var properties: [PropertyDeclaration] {
        [ElementProperty<BridgeProbeElement>.double("ratio", nick: "Ratio", blurb: "a double", range: 0...2, flags: .readWrite, \.ratio)
            .declaration]
    }
    override class var signals: [SignalDeclaration] {
        [ElementSignal<BridgeProbeElement>]([
            .action("double-it", parameters: [swift_type_int()], returns: swift_type_int()) { element, arguments in
                element.emitSignal("fired", [.string("doubled \(arguments[0].intValue ?? -1)")])
                return .int(Int32((arguments[0].intValue ?? 0) * 2))
            },
            .action("describe", parameters: [swift_type_structure()], returns: swift_type_string()) { _, arguments in
                .string("got \(arguments[0].stringValue ?? "nil")")
            },
            .emitted("fired", parameters: [swift_type_string()]),
        ]).map(\.declaration)
    }
    let settings = SettingsStore(Settings())
}

final class BridgeTests: XCTestCase {
    static let registered: Void = {
        _ = TestEnvironment.ready
        registerElement(BridgeProbeElement.self, name: "swiftbridgeprobe", plugin: nil)
    }()

    func testActionSignalsPropertiesAndEmittedSignals() throws {
        _ = Self.registered
        let element = gst_element_factory_make("swiftbridgeprobe", "probe")!
        defer { gst_object_unref(element) }
        let object = UnsafeMutableRawPointer(element).assumingMemoryBound(to: GObject.self)

        gst_util_set_object_arg(object, "ratio", "1.25")
        var ratio = GValue()
        g_value_init(&ratio, swift_type_double())
        g_object_get_property(object, "ratio", &ratio)
        XCTAssertEqual(g_value_get_double(&ratio), 1.25)
        g_value_unset(&ratio)

        // Connect to "fired" with a C callback that records its argument.
        final class Box: @unchecked Sendable { var text = "" }
        let box = Box()
        let handler: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = { _, text, data in
            Unmanaged<Box>.fromOpaque(data!).takeUnretainedValue().text = text.map { String(cString: $0) } ?? ""
        }
        g_signal_connect_data(object, "fired", unsafeBitCast(handler, to: GCallback.self),
                              Unmanaged.passUnretained(box).toOpaque(), nil, GConnectFlags(0))

        var arguments = [GValue](repeating: GValue(), count: 2)
        g_value_init(&arguments[0], swift_type_from_instance(element))
        g_value_set_object(&arguments[0], element)
        g_value_init(&arguments[1], swift_type_int())
        g_value_set_int(&arguments[1], 21)
        var result = GValue()
        g_value_init(&result, swift_type_int())
        g_signal_emitv(&arguments, g_signal_lookup("double-it", swift_type_from_instance(element)), 0, &result)
        XCTAssertEqual(g_value_get_int(&result), 42)
        XCTAssertEqual(box.text, "doubled 21")

        g_value_unset(&arguments[1])
        g_value_init(&arguments[1], swift_type_structure())
        let structure = gst_structure_from_string("options, name=(string)sender", nil)!
        g_value_take_boxed(&arguments[1], structure)
        var text = GValue()
        g_value_init(&text, swift_type_string())
        g_signal_emitv(&arguments, g_signal_lookup("describe", swift_type_from_instance(element)), 0, &text)
        XCTAssertEqual(String(cString: g_value_get_string(&text)), "got options, name=(string)sender;")
        g_value_unset(&text)
        for index in arguments.indices { g_value_unset(&arguments[index]) }
        g_value_unset(&result)
    }
}
