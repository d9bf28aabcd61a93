import Foundation

/// Distances and bearings on the WGS 84 ellipsoid.
///
/// Uses Vincenty's inverse formula, which agrees with the exact geodesic to well under a
/// millimetre wherever it converges. For nearly antipodal points, where Vincenty's iteration
/// may not converge, it searches for the geodesic instead (``antipodalInverse(_:_:)``), to the
/// same accuracy (tested against PostGIS, which uses GeographicLib).
public enum Geodesy {
    /// Semi-major axis of WGS 84, in metres.
    public static let semiMajorAxis = 6_378_137.0
    /// Flattening of WGS 84.
    public static let flattening = 1.0 / 298.257223563
    /// Semi-minor axis of WGS 84, in metres.
    public static let semiMinorAxis = semiMajorAxis * (1 - flattening)
    /// Mean radius (IUGG R1), in metres, for the spherical approximations.
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

    /// The result of the inverse geodesic problem.
    public struct Inverse: Sendable, Hashable {
        /// Distance in metres.
        public var distance: Double
        /// Forward azimuth at the start point, degrees true [0, 360).
        public var initialBearing: Double
        /// How it was solved.
        public var solver: Solver
    }

    /// Which method solved an inverse problem.
    public enum Solver: Sendable, Hashable {
        /// Vincenty's iteration converged.
        case vincenty
        /// Vincenty's iteration did not converge (nearly antipodal points); the geodesic was
        /// found by ``antipodalInverse(_:_:)``.
        case antipodalSearch
    }

    /// Solves the inverse geodesic problem: Vincenty's formula, or where it does not converge
    /// (nearly antipodal points) ``antipodalInverse(_:_:)``.
    public static func inverse(_ from: GeoPoint, _ to: GeoPoint) -> Inverse {
        vincentyInverse(from, to) ?? antipodalInverse(from, to)
    }

    /// Vincenty's inverse formula, or nil where its iteration does not converge.
    static func vincentyInverse(_ from: GeoPoint, _ to: GeoPoint) -> Inverse? {
        if from == to { return Inverse(distance: 0, initialBearing: 0, solver: .vincenty) }
        let b = semiMinorAxis, f = flattening
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
            if sinSigma == 0 { return Inverse(distance: 0, initialBearing: 0, solver: .vincenty) }
            cosSigma = sinU1 * sinU2 + cosU1 * cosU2 * cosLambda
            sigma = atan2(sinSigma, cosSigma)
            let sinAlpha = cosU1 * cosU2 * sinLambda / sinSigma
            cosSqAlpha = 1 - sinAlpha * sinAlpha
            // On the equator cosSqAlpha is 0 and the term vanishes.
            cos2SigmaM = cosSqAlpha != 0 ? cosSigma - 2 * sinU1 * sinU2 / cosSqAlpha : 0
            let previous = lambda
            lambda = L + longitudeExcess(
                sinAlpha: sinAlpha, cosSqAlpha: cosSqAlpha, sigma: sigma, sinSigma: sinSigma, cosSigma: cosSigma, cos2SigmaM: cos2SigmaM)
            if abs(lambda - previous) < 1e-12 {
                converged = true
                break
            }
        }
        guard converged, lambda.isFinite else { return nil }
        let (A, B) = seriesCoefficients(cosSqAlpha: cosSqAlpha)
        let distance = b * A * (sigma - deltaSigma(B: B, sinSigma: sinSigma, cosSigma: cosSigma, cos2SigmaM: cos2SigmaM))
        let alpha1 = atan2(cosU2 * sinLambda, cosU1 * sinU2 - sinU1 * cosU2 * cosLambda)
        return Inverse(distance: distance, initialBearing: normalizedDegrees(degrees(alpha1)), solver: .vincenty)
    }

    /// Solves the direct geodesic problem with Vincenty's formula: the point reached from
    /// `from` after `distance` metres along the geodesic that leaves it at `bearing` degrees.
    ///
    /// Unlike the inverse formula, this iteration converges for every distance.
    public static func destination(from: GeoPoint, bearing: Double, distance: Double) -> GeoPoint {
        let b = semiMinorAxis, f = flattening
        let alpha1 = radians(bearing)
        let sinAlpha1 = sin(alpha1), cosAlpha1 = cos(alpha1)
        let tanU1 = (1 - f) * tan(radians(from.latitude))
        let cosU1 = 1 / (1 + tanU1 * tanU1).squareRoot(), sinU1 = tanU1 * cosU1
        let sigma1 = atan2(tanU1, cosAlpha1)
        let sinAlpha = cosU1 * sinAlpha1
        let cosSqAlpha = 1 - sinAlpha * sinAlpha
        let (A, B) = seriesCoefficients(cosSqAlpha: cosSqAlpha)

        var sigma = distance / (b * A)
        var sinSigma = 0.0, cosSigma = 0.0, cos2SigmaM = 0.0
        for _ in 0..<100 {
            cos2SigmaM = cos(2 * sigma1 + sigma)
            sinSigma = sin(sigma)
            cosSigma = cos(sigma)
            let previous = sigma
            sigma = distance / (b * A) + deltaSigma(B: B, sinSigma: sinSigma, cosSigma: cosSigma, cos2SigmaM: cos2SigmaM)
            if abs(sigma - previous) < 1e-12 { break }
        }
        cos2SigmaM = cos(2 * sigma1 + sigma)
        sinSigma = sin(sigma)
        cosSigma = cos(sigma)
        let x = sinU1 * sinSigma - cosU1 * cosSigma * cosAlpha1
        let latitude = atan2(sinU1 * cosSigma + cosU1 * sinSigma * cosAlpha1, (1 - f) * (sinAlpha * sinAlpha + x * x).squareRoot())
        let lambda = atan2(sinSigma * sinAlpha1, cosU1 * cosSigma - sinU1 * sinSigma * cosAlpha1)
        let L = lambda - longitudeExcess(
            sinAlpha: sinAlpha, cosSqAlpha: cosSqAlpha, sigma: sigma, sinSigma: sinSigma, cosSigma: cosSigma, cos2SigmaM: cos2SigmaM)
        var longitude = from.longitude + degrees(L)
        longitude -= 360 * (longitude / 360).rounded()  // into [-180, 180]
        return GeoPoint(latitude: degrees(latitude), longitude: longitude)
    }

    // The three pieces of Vincenty's formulas that the inverse and the direct problem share.

    /// Vincenty's A and B, from the azimuth of the geodesic at the equator.
    @inline(__always) static func seriesCoefficients(cosSqAlpha: Double) -> (A: Double, B: Double) {
        let uSq = cosSqAlpha * (semiMajorAxis * semiMajorAxis - semiMinorAxis * semiMinorAxis) / (semiMinorAxis * semiMinorAxis)
        let A = 1 + uSq / 16384 * (4096 + uSq * (-768 + uSq * (320 - 175 * uSq)))
        let B = uSq / 1024 * (256 + uSq * (-128 + uSq * (74 - 47 * uSq)))
        return (A, B)
    }

    /// Δσ: how far the arc on the auxiliary sphere differs from the ellipsoid's distance over b·A.
    @inline(__always) static func deltaSigma(B: Double, sinSigma: Double, cosSigma: Double, cos2SigmaM: Double) -> Double {
        B * sinSigma
            * (cos2SigmaM + B / 4
                * (cosSigma * (-1 + 2 * cos2SigmaM * cos2SigmaM)
                    - B / 6 * cos2SigmaM * (-3 + 4 * sinSigma * sinSigma) * (-3 + 4 * cos2SigmaM * cos2SigmaM)))
    }

    /// λ − L: how much farther the geodesic goes in longitude on the auxiliary sphere than on
    /// the ellipsoid.
    @inline(__always) static func longitudeExcess(
        sinAlpha: Double, cosSqAlpha: Double, sigma: Double, sinSigma: Double, cosSigma: Double, cos2SigmaM: Double
    ) -> Double {
        let f = flattening
        let C = f / 16 * cosSqAlpha * (4 + f * (4 - 3 * cosSqAlpha))
        return (1 - C) * f * sinAlpha * (sigma + C * sinSigma * (cos2SigmaM + C * cosSigma * (-1 + 2 * cos2SigmaM * cos2SigmaM)))
    }

    /// The inverse problem for nearly antipodal points, where Vincenty's iteration fails.
    ///
    /// Walk `h` metres (half the way) from `from` at bearing θ to a point M; the route
    /// `h + distance(M, to)` is never shorter than the geodesic, and equals it exactly when θ is
    /// the geodesic's bearing. So the distance is the minimum of that function of θ, found by a
    /// scan and a golden-section search. M is about a quarter of the globe from both ends, where
    /// Vincenty converges. The error in the distance is quadratic in the error in θ: with θ to
    /// 1e-9 rad the distance is exact to well under a millimetre. It costs a few hundred Vincenty
    /// solutions (about 0.1 ms), which only pairs within a degree or so of antipodal pay.
    public static func antipodalInverse(_ from: GeoPoint, _ to: GeoPoint) -> Inverse {
        let half = sphericalDistance(from, to) / 2
        func route(_ bearing: Double) -> Double {
            let midpoint = destination(from: from, bearing: bearing, distance: half)
            return half + (vincentyInverse(midpoint, to)?.distance ?? .infinity)
        }
        // Several bearings can lead to nearly equally short routes (points exactly opposite have
        // two or more geodesics); refine the best few scanned minima and keep the shortest.
        let step = 4.0
        let scanned = stride(from: 0.0, to: 360.0, by: step).map { (bearing: $0, length: route($0)) }
        let bestScanned = scanned.indices.sorted { scanned[$0].length < scanned[$1].length }.prefix(3)
        var best = (bearing: 0.0, length: Double.infinity)
        for index in bestScanned {
            let found = goldenSectionMinimum(of: route, from: scanned[index].bearing - step, to: scanned[index].bearing + step)
            if found.length < best.length { best = found }
        }
        // The function is so flat near its minimum that the search stops where length
        // differences drown in rounding; a parabola through wider points places the bearing.
        for width in [1e-2, 1e-3] {
            let left = route(best.bearing - width), right = route(best.bearing + width)
            let curvature = left + right - 2 * best.length
            guard curvature > 0 else { break }
            let bearing = best.bearing + width * (left - right) / (2 * curvature)
            let length = route(bearing)
            if length <= best.length + 1e-6 { best = (bearing, min(length, best.length)) }
        }
        return Inverse(distance: best.length, initialBearing: normalizedDegrees(best.bearing), solver: .antipodalSearch)
    }

    /// The minimum of `f` between `lower` and `upper`, to 1e-7 degrees.
    static func goldenSectionMinimum(of f: (Double) -> Double, from lower: Double, to upper: Double) -> (bearing: Double, length: Double) {
        let ratio = (5.0.squareRoot() - 1) / 2
        var a = lower, b = upper
        var c = b - ratio * (b - a), d = a + ratio * (b - a)
        var fc = f(c), fd = f(d)
        while b - a > 1e-7 {
            if fc < fd {
                b = d
                d = c
                fd = fc
                c = b - ratio * (b - a)
                fc = f(c)
            } else {
                a = c
                c = d
                fc = fd
                d = a + ratio * (b - a)
                fd = f(d)
            }
        }
        return fc < fd ? (c, fc) : (d, fd)
    }

    @inline(__always) static func radians(_ degrees: Double) -> Double { degrees * .pi / 180 }
    @inline(__always) static func degrees(_ radians: Double) -> Double { radians * 180 / .pi }
    @inline(__always) static func normalizedDegrees(_ value: Double) -> Double {
        let r = value.truncatingRemainder(dividingBy: 360)
        return r < 0 ? r + 360 : r
    }
}
