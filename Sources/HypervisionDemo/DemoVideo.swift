import Foundation
import HypervisionCore

/// The streams of the demo cameras when `scripts/demo-video` serves moving test video: each
/// camera keeps its RTSP URL (for hardware renderers) and gains two MJPEG variants a browser
/// plays natively, `sub` (640x360) and `preview` (320x180), on loopback. The wall pages pick the
/// variant by the size of the tile.
public struct DemoVideo: Sendable, Hashable {
    /// The first port; 0 leaves the cameras' streams as they are.
    public var port: Int
    /// The cameras are spread over this many consecutive ports (a browser opens at most six
    /// connections to one port; a wall shows more camera tiles than that).
    public var ports: Int
    public var host = "127.0.0.1"

    public init(port: Int, ports: Int) {
        self.port = port
        self.ports = max(1, ports)
    }

    /// `camera` with the test video's variants first, then its RTSP streams.
    public func applied(to camera: Camera) -> Camera {
        guard port > 0 else { return camera }
        var camera = camera
        let number = Int(camera.id.filter(\.isNumber).suffix(6)) ?? 0
        let base = "http://\(host):\(port + number % ports)/\(camera.id)"
        let name = camera.name.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(["&", "=", "+", "#"])) ?? camera.id
        camera.streams = [
            Camera.Stream(transport: .mjpeg, quality: "sub", url: "\(base)/sub.mjpg?name=\(name)"),
            Camera.Stream(transport: .mjpeg, quality: "preview", url: "\(base)/preview.mjpg?name=\(name)"),
        ] + camera.streams.filter { $0.transport == .rtsp }
        return camera
    }
}
