import HypervisionCore
import HypervisionLive
import Testing

@Suite struct LivePictureTests {
    @Test func neverMovesBackwardsInDeviceTime() {
        let picture = LivePicture(clock: { t0 })
        #expect(picture.apply(ping("u", 48.0, 2.0, time: t0.adding(seconds: 10), status: .busy)))
        // Older and equal device times are ignored for the live position, whatever their order of arrival.
        #expect(!picture.apply(ping("u", 47.0, 2.0, time: t0.adding(seconds: 5))))
        #expect(!picture.apply(ping("u", 46.0, 2.0, time: t0.adding(seconds: 10))))
        #expect(picture.unit(id("u"))?.position == GeoPoint(latitude: 48.0, longitude: 2.0))
        let result = picture.apply([
            ping("u", 45.0, 2.0, time: t0.adding(seconds: 12)),
            ping("u", 44.0, 2.0, time: t0.adding(seconds: 11)),
            ping("v", 44.0, 3.0, time: t0),
            ping("u", 43.0, 2.0, time: t0.adding(seconds: 13), speed: 4),
        ])
        #expect(result.applied == [true, false, true, true])
        #expect(result.appliedCount == 3 && result.ignoredCount == 1)
        let u = picture.unit(id("u"))
        #expect(u?.position == GeoPoint(latitude: 43.0, longitude: 2.0))
        #expect(u?.time == t0.adding(seconds: 13))
        #expect(u?.speed == 4)
        // A ping without a status keeps the last one reported.
        #expect(u?.status == .busy)
        // The spatial index followed the unit and holds it once.
        #expect(picture.units(near: GeoPoint(latitude: 48.0, longitude: 2.0), radius: 1_000).isEmpty)
        #expect(picture.units(near: GeoPoint(latitude: 43.0, longitude: 2.0), radius: 1).map(\.unit.id) == [id("u")])
        #expect(picture.unitCount == 2)
    }

    @Test func batchesLargerThanOneSliceApplyInOrder() {
        let picture = LivePicture(configuration: LivePictureConfiguration(applySliceSize: 7), clock: { t0 })
        let pings = (0..<100).map { i in ping("u\(i % 10)", Double(i) / 10, 0, time: t0.adding(seconds: Double(i))) }
        let result = picture.apply(pings.reversed())
        // Reversed: only the first ping of each unit (its newest) applies.
        #expect(result.appliedCount == 10)
        #expect(result.applied.prefix(10).allSatisfy { $0 })
        #expect(picture.unit(id("u3"))?.position.latitude == 9.3)
    }

    @Test func staleMarkingFollowsTheInjectedClock() {
        let clock = TestClock(t0)
        let picture = LivePicture(configuration: LivePictureConfiguration(staleAfter: 120), clock: clock.function)
        picture.apply(ping("u", 48, 2, time: t0, received: t0))
        #expect(picture.unit(id("u"))?.isStale == false)
        clock.advance(seconds: 119)
        #expect(picture.unit(id("u"))?.staleSince == nil)
        clock.advance(seconds: 1)
        #expect(picture.unit(id("u"))?.staleSince == t0.adding(seconds: 120))
        // A late ping (older device time) does not move the unit but proves it is alive.
        picture.apply(ping("u", 40, 2, time: t0.adding(seconds: -60), received: clock.now))
        let u = picture.unit(id("u"))
        #expect(u?.isStale == false)
        #expect(u?.lastHeard == t0.adding(seconds: 120))
        #expect(u?.position.latitude == 48)
        clock.advance(seconds: 500)
        #expect(picture.unit(id("u"))?.staleSince == t0.adding(seconds: 240))
        #expect(picture.allUnits(filter: LiveUnitFilter(stale: true)).count == 1)
    }

    @Test func loadRebuildsAndKeepsReceiveTimes() {
        let clock = TestClock(t0.adding(seconds: 1_000))
        let picture = LivePicture(configuration: LivePictureConfiguration(staleAfter: 300), clock: clock.function)
        // A live ping that arrived before the start-up load finished wins over the older stored row.
        picture.apply(ping("a", 1, 1, time: t0.adding(seconds: 900), received: t0.adding(seconds: 990)))
        picture.load(positions: [
            ping("a", 2, 2, time: t0.adding(seconds: 800), received: t0.adding(seconds: 801)),
            ping("b", 3, 3, time: t0.adding(seconds: 100), received: t0.adding(seconds: 101)),
        ])
        #expect(picture.unit(id("a"))?.position == GeoPoint(latitude: 1, longitude: 1))
        #expect(picture.unit(id("b"))?.staleSince == t0.adding(seconds: 401))
        #expect(picture.unitCount == 2)
    }

    @Test func metadataBeforeAndAfterTheFirstPing() {
        let picture = LivePicture(clock: { t0 })
        picture.upsert(unit: Unit(id: id("PN-75-BAC-12"), callsign: "BAC 12", kind: .car, agency: .policeNationale))
        #expect(picture.unit(id("PN-75-BAC-12")) == nil)
        #expect(picture.unlocatedUnit(id("PN-75-BAC-12"))?.callsign == "BAC 12")
        picture.apply(ping("PN-75-BAC-12", 48.85, 2.35, time: t0))
        #expect(picture.unlocatedUnit(id("PN-75-BAC-12")) == nil)
        var unit = picture.unit(id("PN-75-BAC-12"))
        #expect(unit?.callsign == "BAC 12" && unit?.kind == .car && unit?.agency == .policeNationale)
        picture.upsert(unit: Unit(id: id("PN-75-BAC-12"), callsign: "BAC 12 bis", kind: .motorbike))
        unit = picture.unit(id("PN-75-BAC-12"))
        #expect(unit?.callsign == "BAC 12 bis" && unit?.kind == .motorbike && unit?.agency == nil)
    }

    @Test func removeKeepsTheIndexConsistent() {
        let picture = LivePicture(clock: { t0 })
        for i in 0..<50 { picture.apply(ping("u\(i)", 48.85 + Double(i) * 1e-4, 2.35, time: t0)) }
        #expect(picture.remove(unit: id("u0")))
        #expect(picture.remove(unit: id("u25")))
        #expect(!picture.remove(unit: id("u25")))
        picture.apply(ping("u49", 10, 10, time: t0.adding(seconds: 1)))
        let near = picture.units(near: GeoPoint(latitude: 48.85, longitude: 2.35), radius: 10_000)
        #expect(near.count == 47)
        #expect(!near.contains { ["u0", "u25", "u49"].contains($0.unit.id.rawValue) })
        #expect(picture.nearest(to: GeoPoint(latitude: 10, longitude: 10), k: 1).first?.unit.id == id("u49"))
    }

    @Test func degenerateQueries() {
        let picture = LivePicture(clock: { t0 })
        let here = GeoPoint(latitude: 0, longitude: 0)
        #expect(picture.nearest(to: here, k: 5).isEmpty)
        picture.apply(ping("u", 0, 0, time: t0))
        #expect(picture.nearest(to: here, k: 0).isEmpty)
        #expect(picture.units(near: here, radius: -1).isEmpty)
        #expect(picture.units(near: here, radius: .nan).isEmpty)
        #expect(picture.units(near: here, radius: 0).map(\.distance) == [0])
        #expect(picture.nearest(to: GeoPoint(latitude: .nan, longitude: 0), k: 1).isEmpty)
        #expect(picture.units(near: GeoPoint(latitude: 0, longitude: .infinity), radius: 10).isEmpty)
        #expect(picture.units(near: here, radius: .infinity).count == 1)
    }
}

@Suite struct CameraAndIncidentTests {
    static func camera(_ id: String, _ lat: Double, _ lon: Double, heading: Double, fov: Double, range: Double, status: Camera.Status = .online) -> Camera {
        Camera(id: id, name: id, position: GeoPoint(latitude: lat, longitude: lon), heading: heading, fieldOfView: fov, range: range, status: status)
    }

    @Test func coveringIsNearestFirst() {
        let picture = LivePicture(clock: { t0 })
        let spot = GeoPoint(latitude: 48.8566, longitude: 2.3522)
        // ~111 m per 0.001° of latitude. South of the spot, looking north:
        picture.upsert(cameras: [
            Self.camera("far", 48.8536, 2.3522, heading: 0, fov: 40, range: 400),  // ~333 m
            Self.camera("near", 48.8556, 2.3522, heading: 0, fov: 40, range: 200),  // ~111 m
            Self.camera("dome", 48.8576, 2.3522, heading: 0, fov: 360, range: 150),  // ~111 m north, sees all round
            Self.camera("looks-away", 48.8556, 2.3522, heading: 180, fov: 90, range: 500),
            Self.camera("too-short", 48.8546, 2.3522, heading: 0, fov: 90, range: 100),  // ~222 m away
            Self.camera("off", 48.8560, 2.3522, heading: 0, fov: 90, range: 100, status: .offline),
        ])
        let ids = picture.cameras(covering: spot).map(\.camera.id)
        // "near" (0.001° south) is a few cm closer than "dome" (0.001° north): a degree of
        // latitude grows towards the pole.
        #expect(ids == ["off", "near", "dome", "far"])
        #expect(picture.cameras(covering: spot, statuses: [.online]).map(\.camera.id) == ["near", "dome", "far"])
        let distances = picture.cameras(covering: spot).map { $0.distance! }
        #expect(distances == distances.sorted())
        // Brute force agrees.
        let brute = picture.allCameras().filter { $0.covers(spot) }.map(\.id)
        #expect(Set(brute) == Set(ids))
        // Shrinking the longest range shrinks the search; removal takes it out.
        #expect(picture.removeCamera(id: "far"))
        #expect(picture.cameras(covering: spot).map(\.camera.id) == ["off", "near", "dome"])
        picture.upsert(camera: Self.camera("near", 48.8556, 2.3522, heading: 0, fov: 40, range: 50))
        #expect(picture.cameras(covering: spot).map(\.camera.id) == ["off", "dome"])
        #expect(picture.cameras(near: spot, radius: 120).map(\.camera.id).sorted() == ["dome", "looks-away", "near", "off"])
        // Edges included: "off" lies on the north edge.
        #expect(picture.cameras(in: try! BoundingBox(parsing: "2.35,48.855,2.36,48.856")).map(\.camera.id).sorted() == ["looks-away", "near", "off"])
        // Ties at equal distance: by id.
        picture.upsert(camera: Self.camera("b-twin", 48.8556, 2.3522, heading: 0, fov: 40, range: 200))
        picture.upsert(camera: Self.camera("a-twin", 48.8556, 2.3522, heading: 0, fov: 40, range: 200))
        #expect(picture.cameras(covering: spot).map(\.camera.id) == ["off", "a-twin", "b-twin", "dome"])
    }

    @Test func coveringAcrossTheAntimeridian() {
        let picture = LivePicture(clock: { t0 })
        picture.upsert(camera: Self.camera("west-side", 0, -179.9995, heading: 270, fov: 60, range: 300))
        let spot = GeoPoint(latitude: 0, longitude: 179.9995)  // ~111 m west of the camera, across ±180
        #expect(picture.cameras(covering: spot).map(\.camera.id) == ["west-side"])
    }

    @Test func incidents() {
        let picture = LivePicture(clock: { t0 })
        let here = GeoPoint(latitude: 48.85, longitude: 2.35)
        picture.upsert(incident: Incident(id: "i1", category: "theft", priority: 3, location: here, openedAt: t0))
        picture.upsert(incident: Incident(id: "i2", category: "fight", priority: 1, location: GeoPoint(latitude: 48.86, longitude: 2.35), openedAt: t0.adding(seconds: 5)))
        picture.upsert(incident: Incident(id: "i3", category: "noise", priority: 5, location: here, status: .closed, openedAt: t0))
        #expect(picture.activeIncidents().map(\.id) == ["i2", "i1"])
        #expect(picture.incidents(near: here, radius: 500).map(\.incident.id) == ["i1"])
        let closed = picture.closeIncident(id: "i1", at: t0.adding(seconds: 60))
        #expect(closed?.status == .closed && closed?.closedAt == t0.adding(seconds: 60))
        #expect(picture.incident(id: "i1") == nil)
        #expect(picture.closeIncident(id: "i1", at: t0) == nil)
    }
}

@Suite struct ConcurrencyTests {
    /// Writers and readers at once: every query sees a consistent table (each unit once, inside
    /// its box), and the final state is the newest ping of every unit.
    @Test func readersAndWritersTogether() async {
        let picture = LivePicture(configuration: LivePictureConfiguration(applySliceSize: 16), clock: { t0 })
        let box = try! BoundingBox(west: 1, south: 47, east: 4, north: 50)
        await withTaskGroup(of: Void.self) { group in
            for writer in 0..<2 {
                group.addTask {
                    var rng = SeededRandom(seed: UInt64(writer))
                    for round in 1...200 {
                        let batch = (0..<50).map { i in
                            ping(
                                "w\(writer)-\(i)", .random(in: 48...49, using: &rng), .random(in: 2...3, using: &rng),
                                time: t0.adding(seconds: Double(round)))
                        }
                        picture.apply(batch)
                    }
                }
            }
            for _ in 0..<2 {
                group.addTask {
                    for _ in 0..<200 {
                        let inBox = picture.units(in: box).map(\.unit.id)
                        #expect(Set(inBox).count == inBox.count)
                        let near = picture.nearest(to: GeoPoint(latitude: 48.5, longitude: 2.5), k: 20)
                        #expect(near.map { $0.distance! } == near.map { $0.distance! }.sorted())
                    }
                }
            }
        }
        #expect(picture.unitCount == 100)
        #expect(picture.allUnits().allSatisfy { $0.time == t0.adding(seconds: 200) })
    }
}
