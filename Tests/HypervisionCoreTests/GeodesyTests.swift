import HypervisionCore
import Testing

@Suite struct GeodesyTests {
    @Test func vincentyMatchesTheClassicFlindersPeakExample() {
        // Vincenty (1975): Flinders Peak to Buninyong, 54,972.271 m, azimuth 306°52'05.37".
        let flinders = GeoPoint(latitude: -(37 + 57 / 60.0 + 3.72030 / 3600), longitude: 144 + 25 / 60.0 + 29.52440 / 3600)
        let buninyong = GeoPoint(latitude: -(37 + 39 / 60.0 + 10.15610 / 3600), longitude: 143 + 55 / 60.0 + 35.38390 / 3600)
        let inverse = Geodesy.inverse(flinders, buninyong)
        #expect(inverse.converged)
        #expect(abs(inverse.distance - 54_972.271) < 0.001)
        #expect(abs(inverse.initialBearing - (306 + 52 / 60.0 + 5.37 / 3600)) < 1e-4)
    }

    @Test func oneDegreeAlongTheEquatorIsTheEllipsoidArc() {
        let d = Geodesy.distance(GeoPoint(latitude: 0, longitude: 0), GeoPoint(latitude: 0, longitude: 1))
        // a * pi / 180 on the equator.
        #expect(abs(d - 111_319.4908) < 0.001)
    }

    @Test func samePointIsZeroAndBearingsPointTheRightWay() {
        let paris = GeoPoint(latitude: 48.8566, longitude: 2.3522)
        #expect(Geodesy.distance(paris, paris) == 0)
        let north = GeoPoint(latitude: 48.9566, longitude: 2.3522)
        let east = GeoPoint(latitude: 48.8566, longitude: 2.4522)
        #expect(abs(Geodesy.initialBearing(paris, north) - 0) < 0.01)
        #expect(abs(Geodesy.initialBearing(paris, east) - 90) < 0.1)
        #expect(abs(Geodesy.initialBearing(north, paris) - 180) < 0.01)
    }

    @Test func nearlyAntipodalPointsFallBackWithinHalfAPercent() {
        // Vincenty does not converge here; the spherical fallback must stay within 0.5% of the
        // geodesic: 19,936,288.579 m for (0,0)-(0.5,179.5), the textbook case (Karney 2013).
        let a = GeoPoint(latitude: 0, longitude: 0)
        let b = GeoPoint(latitude: 0.5, longitude: 179.5)
        let d = Geodesy.distance(a, b)
        #expect(abs(d - 19_936_288.579) / 19_936_288.579 < 0.005)
    }

    @Test func sphericalDistanceStaysWithinHalfAPercentOfTheEllipsoid() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let a = GeoPoint(latitude: .random(in: -89...89, using: &generator), longitude: .random(in: -180...180, using: &generator))
            let b = GeoPoint(latitude: .random(in: -89...89, using: &generator), longitude: .random(in: -180...180, using: &generator))
            let exact = Geodesy.inverse(a, b)
            guard exact.converged, exact.distance > 1 else { continue }
            let spherical = Geodesy.sphericalDistance(a, b)
            #expect(abs(spherical - exact.distance) / exact.distance < 0.006)
        }
    }

    @Test func cameraWedgeCoversPointsInsideItsFieldOfViewOnly() {
        let camera = Camera(
            id: "cam-1", name: "Rivoli", position: GeoPoint(latitude: 48.86, longitude: 2.34), heading: 90, fieldOfView: 60,
            range: 200)
        let ahead = GeoPoint(latitude: 48.86, longitude: 2.3420)  // ~146 m east
        let behind = GeoPoint(latitude: 48.86, longitude: 2.3380)
        let tooFar = GeoPoint(latitude: 48.86, longitude: 2.3460)  // ~440 m east
        let wideAngle = GeoPoint(latitude: 48.8610, longitude: 2.3405)  // ~35° off the axis
        #expect(camera.covers(ahead))
        #expect(!camera.covers(behind))
        #expect(!camera.covers(tooFar))
        #expect(!camera.covers(wideAngle))
    }
}
