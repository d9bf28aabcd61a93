import HypervisionConfiguration

/// The demo's configuration section, `demo.*`: whether the demo city runs, and where its test
/// video comes from.
public struct DemoConfiguration: ConfigurationSection, Hashable {
    public var enabled = false
    /// The loopback ports `scripts/demo-video` serves the demo cameras' MJPEG on: 16 from 8090
    /// by default (a browser opens at most six connections to one port, and every camera tile
    /// holds one); port 0 leaves the demo cameras with RTSP URLs only.
    public var video = DemoVideo(port: 8090, ports: 16)

    public init() {}

    public static let keys = ["demo.enabled", "demo.video.port", "demo.video.ports"]

    public init(reader r: SectionReader) throws(ConfigurationError) {
        enabled = try r.bool("demo.enabled", default: enabled)
        video = DemoVideo(
            port: try r.int("demo.video.port", default: video.port, in: 0...65_535),
            ports: try r.int("demo.video.ports", default: video.ports, in: 1...64))
        if video.port > 0 && video.port + video.ports - 1 > 65_535 {
            throw ConfigurationError(key: "demo.video.ports", problem: "the ports from demo.video.port go past 65535")
        }
    }
}
