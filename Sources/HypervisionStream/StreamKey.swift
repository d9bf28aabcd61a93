/// What a subscriber watches: a whole wall, or one physical display of it.
///
/// Each key has its own scene, sequence numbers and history, because a display view is a different
/// document (the wall's scene cut to that display, in its pixel coordinates), and a patch of the
/// wall's scene means nothing to a renderer holding a display's scene.
public struct StreamKey: Sendable, Hashable, CustomStringConvertible {
    /// The wall id, as in `GET /api/v1/walls/{id}/scene`.
    public var wall: String
    /// The display id within the wall (`r0c1`), or nil for the whole wall.
    public var display: String?

    public init(wall: String, display: String? = nil) {
        self.wall = wall
        self.display = display
    }

    /// `cic-paris` or `cic-paris/r0c1`, for logs.
    public var description: String {
        guard let display else { return wall }
        return "\(wall)/\(display)"
    }
}
