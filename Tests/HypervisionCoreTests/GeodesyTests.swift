import HypervisionCore
import Testing

@Suite struct GeodesyTests {
    @Test func vincentyMatchesTheClassicFlindersPeakExample() {
        // Vincenty (1975): Flinders Peak to Buninyong, 54,972.271 m, azimuth 306°52'05.37".
        let flinders = GeoPoint(latitude: -(37 + 57 / 60.0 + 3.72030 / 3600), longitude: 144 + 25 / 60.0 + 29.52440 / 3600)
        let buninyong = GeoPoint(latitude: -(37 + 39 / 60.0 + 10.15610 / 3600), longitude: 143 + 55 / 60.0 + 35.38390 / 3600)
        let inverse = Geodesy.inverse(flinders, buninyong)
        #expect(inverse.solver == .vincenty)
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

    /// Nearly antipodal pairs, where Vincenty's iteration does not converge, against
    /// GeographicLib 2.0 (Karney 2013; the first two are the paper's own examples).
    @Test(arguments: [
        (GeoPoint(latitude: 0, longitude: 0), GeoPoint(latitude: 0.5, longitude: 179.5), 19_936_288.5790, 25.67187287),
        (GeoPoint(latitude: -30, longitude: 0), GeoPoint(latitude: 29.9, longitude: 179.8), 19_989_832.8276, 161.89052474),
        (GeoPoint(latitude: 10, longitude: 20), GeoPoint(latitude: -10.2, longitude: -159.9), 19_981_121.5978, 187.20424066),
        (GeoPoint(latitude: 89.9, longitude: 0), GeoPoint(latitude: -89.95, longitude: 179.7), 19_998_346.6066, 179.70001375),
    ])
    func nearlyAntipodalPointsAreSolvedExactly(from: GeoPoint, to: GeoPoint, distance: Double, bearing: Double) {
        let inverse = Geodesy.inverse(from, to)
        #expect(abs(inverse.distance - distance) < 0.001, "\(inverse.distance) m by \(inverse.solver)")
        #expect(abs(inverse.initialBearing - bearing) < 1e-5, "\(inverse.initialBearing)°")
    }

    @Test func theSearchIsUsedWhereVincentyFails() {
        // Exactly opposite on the equator: the geodesics run over the poles (bearing 0 or 180).
        let opposite = Geodesy.inverse(GeoPoint(latitude: 0, longitude: 0), GeoPoint(latitude: 0, longitude: 180))
        #expect(opposite.solver == .antipodalSearch)
        #expect(abs(opposite.distance - 20_003_931.4586) < 0.001, "\(opposite.distance) m")
        #expect(min(abs(opposite.initialBearing - 180), min(opposite.initialBearing, 360 - opposite.initialBearing)) < 1e-5)
    }

    @Test func antipodalSearchAgreesWithVincentyWhereBothWork() {
        var generator = SeededRandom(seed: 7)
        for _ in 0..<200 {
            let a = GeoPoint(latitude: .random(in: -80...80, using: &generator), longitude: .random(in: -180...180, using: &generator))
            let b = GeoPoint(latitude: .random(in: -80...80, using: &generator), longitude: .random(in: -180...180, using: &generator))
            let vincenty = Geodesy.inverse(a, b)
            guard vincenty.solver == .vincenty, vincenty.distance > 1_000_000 else { continue }
            let searched = Geodesy.antipodalInverse(a, b)
            #expect(abs(searched.distance - vincenty.distance) < 0.001, "\(a) → \(b)")
        }
    }

    @Test func destinationIsTheInverseOfTheInverse() {
        var generator = SeededRandom(seed: 8)
        for _ in 0..<500 {
            let start = GeoPoint(latitude: .random(in: -89...89, using: &generator), longitude: .random(in: -180...180, using: &generator))
            let bearing = Double.random(in: 0..<360, using: &generator)
            let distance = Double.random(in: 1...15_000_000, using: &generator)
            let end = Geodesy.destination(from: start, bearing: bearing, distance: distance)
            let back = Geodesy.inverse(start, end)
            #expect(abs(back.distance - distance) < 0.001, "\(start) at \(bearing)° for \(distance) m")
        }
        // Vincenty's own direct example: Flinders Peak, 306°52'05.37", 54,972.271 m → Buninyong.
        let flinders = GeoPoint(latitude: -(37 + 57 / 60.0 + 3.72030 / 3600), longitude: 144 + 25 / 60.0 + 29.52440 / 3600)
        let buninyong = Geodesy.destination(from: flinders, bearing: 306 + 52 / 60.0 + 5.37 / 3600, distance: 54_972.271)
        #expect(abs(buninyong.latitude - -(37 + 39 / 60.0 + 10.15610 / 3600)) < 1e-8)
        #expect(abs(buninyong.longitude - (143 + 55 / 60.0 + 35.38390 / 3600)) < 1e-8)
    }

    @Test func sphericalDistanceStaysWithinHalfAPercentOfTheEllipsoid() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let a = GeoPoint(latitude: .random(in: -89...89, using: &generator), longitude: .random(in: -180...180, using: &generator))
            let b = GeoPoint(latitude: .random(in: -89...89, using: &generator), longitude: .random(in: -180...180, using: &generator))
            let exact = Geodesy.inverse(a, b)
            guard exact.distance > 1 else { continue }
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
