import Foundation

/// Distances and bearings on the WGS 84 ellipsoid.
///
/// Uses Vincenty's inverse formula, which agrees with the exact geodesic to well under a
/// millimetre wherever it converges. For nearly antipodal points, where Vincenty's iteration
/// may not converge, it falls back to a spherical great-circle distance scaled to the
/// ellipsoid's mean radius; the error there stays under 0.5% (tested against PostGIS).
public enum Geodesy {
    /// Semi-major axis of WGS 84, in metres.
    public static let semiMajorAxis = 6_378_137.0
    /// Flattening of WGS 84.
    public static let flattening = 1.0 / 298.257223563
    /// Semi-minor axis of WGS 84, in metres.
    public static let semiMinorAxis = semiMajorAxis * (1 - flattening)
    /// Mean radius (IUGG R1), in metres, for the spherical fallback.
    public static let meanRadius = 6_371_008.8

    /// The geodesic distance between two points, in metres.
    public static func distance(_ from: GeoPoint, _ to: GeoPoint) -> Double {
        inverse(from, to).distance
    }

    /// The initial bearing (forward azimuth) from `from` towards `to`, in degrees true [0, 360).
    public static func initialBearing(_ from: GeoPoint, _ to: GeoPoint) -> Double {
        inverse(from, to).initialBearing
    }

    /// The great-circle distance on a sphere of the mean radius: fast, error up to about 0.5%.
    public static func sphericalDistance(_ from: GeoPoint, _ to: GeoPoint) -> Double {
        let phi1 = radians(from.latitude), phi2 = radians(to.latitude)
        let dPhi = phi2 - phi1
        let dLambda = radians(to.longitude - from.longitude)
        let a = sin(dPhi / 2) * sin(dPhi / 2) + cos(phi1) * cos(phi2) * sin(dLambda / 2) * sin(dLambda / 2)
        return 2 * meanRadius * atan2(a.squareRoot(), (1 - a).squareRoot())
    }

    /// The initial bearing on a sphere, in degrees true [0, 360).
    public static func sphericalBearing(_ from: GeoPoint, _ to: GeoPoint) -> Double {
        let phi1 = radians(from.latitude), phi2 = radians(to.latitude)
        let dLambda = radians(to.longitude - from.longitude)
        let y = sin(dLambda) * cos(phi2)
        let x = cos(phi1) * sin(phi2) - sin(phi1) * cos(phi2) * cos(dLambda)
        return normalizedDegrees(degrees(atan2(y, x)))
    }

    /// The result of the inverse geodesic problem.
    public struct Inverse: Sendable, Hashable {
        /// Distance in metres.
        public var distance: Double
        /// Forward azimuth at the start point, degrees true [0, 360).
        public var initialBearing: Double
        /// Whether Vincenty's iteration converged (false means the spherical fallback was used).
        public var converged: Bool
    }

    /// Solves the inverse geodesic problem with Vincenty's formula.
    public static func inverse(_ from: GeoPoint, _ to: GeoPoint) -> Inverse {
        if from == to { return Inverse(distance: 0, initialBearing: 0, converged: true) }
        let a = semiMajorAxis, b = semiMinorAxis, f = flattening
        let L = radians(to.longitude - from.longitude)
        let U1 = atan((1 - f) * tan(radians(from.latitude)))
        let U2 = atan((1 - f) * tan(radians(to.latitude)))
        let sinU1 = sin(U1), cosU1 = cos(U1), sinU2 = sin(U2), cosU2 = cos(U2)

        var lambda = L
        var sinSigma = 0.0, cosSigma = 0.0, sigma = 0.0, cosSqAlpha = 0.0, cos2SigmaM = 0.0
        var sinLambda = 0.0, cosLambda = 0.0
        var converged = false
        for _ in 0..<200 {
            sinLambda = sin(lambda)
            cosLambda = cos(lambda)
            let t1 = cosU2 * sinLambda
            let t2 = cosU1 * sinU2 - sinU1 * cosU2 * cosLambda
            sinSigma = (t1 * t1 + t2 * t2).squareRoot()
            if sinSigma == 0 { return Inverse(distance: 0, initialBearing: 0, converged: true) }
            cosSigma = sinU1 * sinU2 + cosU1 * cosU2 * cosLambda
            sigma = atan2(sinSigma, cosSigma)
            let sinAlpha = cosU1 * cosU2 * sinLambda / sinSigma
            cosSqAlpha = 1 - sinAlpha * sinAlpha
            // On the equator cosSqAlpha is 0 and the term vanishes.
            cos2SigmaM = cosSqAlpha != 0 ? cosSigma - 2 * sinU1 * sinU2 / cosSqAlpha : 0
            let C = f / 16 * cosSqAlpha * (4 + f * (4 - 3 * cosSqAlpha))
            let previous = lambda
            lambda = L + (1 - C) * f * sinAlpha
                * (sigma + C * sinSigma * (cos2SigmaM + C * cosSigma * (-1 + 2 * cos2SigmaM * cos2SigmaM)))
            if abs(lambda - previous) < 1e-12 {
                converged = true
                break
            }
        }
        guard converged, lambda.isFinite else {
            return Inverse(
                distance: sphericalDistance(from, to),
                initialBearing: sphericalBearing(from, to),
                converged: false
            )
        }
        let uSq = cosSqAlpha * (a * a - b * b) / (b * b)
        let A = 1 + uSq / 16384 * (4096 + uSq * (-768 + uSq * (320 - 175 * uSq)))
        let B = uSq / 1024 * (256 + uSq * (-128 + uSq * (74 - 47 * uSq)))
        let deltaSigma = B * sinSigma
            * (cos2SigmaM + B / 4
                * (cosSigma * (-1 + 2 * cos2SigmaM * cos2SigmaM)
                    - B / 6 * cos2SigmaM * (-3 + 4 * sinSigma * sinSigma) * (-3 + 4 * cos2SigmaM * cos2SigmaM)))
        let distance = b * A * (sigma - deltaSigma)
        let alpha1 = atan2(cosU2 * sinLambda, cosU1 * sinU2 - sinU1 * cosU2 * cosLambda)
        return Inverse(distance: distance, initialBearing: normalizedDegrees(degrees(alpha1)), converged: true)
    }

    @inline(__always) static func radians(_ degrees: Double) -> Double { degrees * .pi / 180 }
    @inline(__always) static func degrees(_ radians: Double) -> Double { radians * 180 / .pi }
    @inline(__always) static func normalizedDegrees(_ value: Double) -> Double {
        let r = value.truncatingRemainder(dividingBy: 360)
        return r < 0 ? r + 360 : r
    }
}
