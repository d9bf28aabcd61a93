import Foundation
import Hummingbird
import NIOCore

/// The pages served beside the live preview (`/walls/{id}`, in ``WallRoutes``), all from the
/// binary (a command room has no internet, and nothing is built at install time):
///
/// - `/render/{wall}/{display}`: the renderer of one display, full-screen, for Chromium in kiosk
///   mode on each wall-controller PC; `/render/{wall}` draws the whole wall in the window (one PC
///   driving the whole wall through a video controller);
/// - `/console` and `/console/{wall}`: the operators' console (it reads and acts through the API; see ``OperatorRoutes``);
/// - the scripts and style they share: `/walls/assets/basemap.js`, `console.js`, `console.css`.
///
/// The pages need no token to load; what they show comes from the API with the token given as
/// `?token=` (a renderer's `subscribe:WALL`, an operator's `query` and `admin`).
public struct WallPageRoutes<Context: RequestContext>: Sendable {
    public init() {}

    public func addRoutes(to router: Router<Context>) {
        router.get("/render/:wall") { _, _ in Self.page(RendererPage.bytes) }
        router.get("/render/:wall/:display") { _, _ in Self.page(RendererPage.bytes) }
        router.get("/console") { _, _ in Self.page(PackageResources.console_html) }
        router.get("/console/:wall") { _, _ in Self.page(PackageResources.console_html) }
        router.get("/walls/assets/basemap.js") { _, _ in Self.asset(PackageResources.basemap_js, "text/javascript; charset=utf-8") }
        router.get("/walls/assets/console.js") { _, _ in Self.asset(PackageResources.console_js, "text/javascript; charset=utf-8") }
        router.get("/walls/assets/console.css") { _, _ in Self.asset(PackageResources.console_css, "text/css; charset=utf-8") }
    }

    static func page(_ bytes: [UInt8]) -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func asset(_ bytes: [UInt8], _ type: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "\(type)", .cacheControl: "no-cache"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// The renderer page: the preview page in renderer mode (full-screen, no chrome, video playing):
/// one page, one script, so the two never drift apart. `wall.js` reads `data-mode`.
enum RendererPage {
    static let bytes: [UInt8] = Array(
        String(decoding: PackageResources.wall_html, as: UTF8.self)
            .replacingOccurrences(of: "<title>Hypervision wall preview</title>", with: "<title>Hypervision renderer</title>")
            .replacingOccurrences(of: "<body>", with: #"<body data-mode="renderer">"#)
            .utf8)
}
