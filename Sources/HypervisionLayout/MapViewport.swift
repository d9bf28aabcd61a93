import HypervisionCore

/// Chooses what part of the Earth a map tile shows.
enum MapViewport {
    /// Metres per degree of latitude (mean); good to 0.5%, plenty for framing a map.
    static let metresPerDegree = 111_320.0

    /// The viewport of a map region: fitted to what is of interest when the policy says so and
    /// something is, else the fixed viewport, else the whole world.
    ///
    /// A fitted viewport is the points' bounding box, padded, widened to the minimum span, then
    /// widened on one axis to the tile's aspect so the renderer never distorts the map. Corners
    /// are rounded to 1e-6° (about 0.1 m) so tiny jitter in positions does not produce patches.
    static func compute(_ policy: MapViewportPolicy, tile: PixelRect, inputs: LayoutInputs) -> BoundingBox {
        var west = Double.infinity, south = Double.infinity, east = -Double.infinity, north = -Double.infinity
        func include(_ point: GeoPoint) {
            west = min(west, point.longitude)
            east = max(east, point.longitude)
            south = min(south, point.latitude)
            north = max(north, point.latitude)
        }
        if policy.fit.contains(.incidents) {
            for incident in inputs.incidents where incident.isActive { include(incident.location) }
        }
        let staleMicroseconds = Int64(inputs.wall.tuning.unitStaleSeconds * 1_000_000)
        if policy.fit.contains(.units) || policy.fit.contains(.emergencies) {
            let all = policy.fit.contains(.units)
            for unit in inputs.units.values {
                if unit.status == .emergency || (all && inputs.now.microseconds - unit.time.microseconds <= staleMicroseconds) {
                    include(unit.position)
                }
            }
        }
        guard west.isFinite, south.isFinite else {
            return policy.fixed ?? BoundingBox(trustedWest: -180, south: -85, east: 180, north: 85)
        }
        let centerLatitude = (south + north) / 2, centerLongitude = (west + east) / 2
        let cosine = max(cosineDegrees(min(abs(centerLatitude), 89)), 0.01)
        var heightMetres = (north - south) * metresPerDegree + 2 * policy.paddingMetres
        var widthMetres = (east - west) * metresPerDegree * cosine + 2 * policy.paddingMetres
        heightMetres = max(heightMetres, policy.minimumSpanMetres)
        widthMetres = max(widthMetres, policy.minimumSpanMetres)
        if tile.width > 0, tile.height > 0 {
            let aspect = Double(tile.width) / Double(tile.height)
            if widthMetres / heightMetres < aspect {
                widthMetres = heightMetres * aspect
            } else {
                heightMetres = widthMetres / aspect
            }
        }
        let halfHeight = heightMetres / 2 / metresPerDegree
        let halfWidth = widthMetres / 2 / (metresPerDegree * cosine)
        return BoundingBox(trustedWest: rounded(max(centerLongitude - halfWidth, -180)), south: rounded(max(centerLatitude - halfHeight, -90)),
            east: rounded(min(centerLongitude + halfWidth, 180)), north: rounded(min(centerLatitude + halfHeight, 90)))
    }

    private static func rounded(_ degrees: Double) -> Double { (degrees * 1_000_000).rounded() / 1_000_000 }
}
