import HypervisionCore
import Synchronization
import Testing

@testable import HypervisionLive

/// The live picture holds a bounded number of units whatever ids senders make up: at the cap
/// the unit heard from longest ago goes, silent units are forgotten, consumers see both as
/// removals, and a forgotten unit that pings again comes back as before.
@Suite("Bounded units: capacity and silence")
struct UnitBoundsTests {
    /// Collects what the picture reports to its observer.
    final class Reports: Sendable {
        private let changes = Mutex<[LiveUnitCountChange]>([])
        var all: [LiveUnitCountChange] { changes.withLock { $0 } }
        var lastCount: Int? { all.last?.count }
        var forgotten: LiveForgottenCounts {
            all.reduce(into: LiveForgottenCounts()) {
                $0.atCapacity += $1.forgotten.atCapacity
                $0.silent += $1.forgotten.silent
            }
        }
        func record(_ change: LiveUnitCountChange) { changes.withLock { $0.append(change) } }
    }

    func picture(cap: Int, forgetAfter: Double? = nil, clock: TestClock = TestClock(t0), reports: Reports = Reports()) -> LivePicture {
        LivePicture(
            configuration: LivePictureConfiguration(maximumUnits: cap, forgetAfter: forgetAfter), clock: clock.function,
            onUnitCountChange: reports.record)
    }

    func located(_ picture: LivePicture) -> Set<String> { Set(picture.allUnits().map(\.id.rawValue)) }

    @Test("At the cap the unit heard from longest ago makes room, and consumers see it removed")
    func theLongestUnheardGoesFirst() {
        let reports = Reports()
        let picture = picture(cap: 3, reports: reports)
        picture.apply([ping("a", 48, 2, time: t0), ping("b", 48, 2.1, time: t0.adding(seconds: 1)), ping("c", 48, 2.2, time: t0.adding(seconds: 2))])
        let revision = picture.unitChanges(since: nil).revision
        // a is heard again (an old fix, but it proves a is alive): b is now the longest unheard.
        picture.apply(ping("a", 47, 2, time: t0.adding(seconds: -60), received: t0.adding(seconds: 3)))
        #expect(picture.apply(ping("d", 48, 2.3, time: t0.adding(seconds: 4))))
        #expect(located(picture) == ["a", "c", "d"])
        #expect(picture.unit(id("b")) == nil && picture.unitCount == 3)
        let changes = picture.unitChanges(since: revision)
        #expect(changes.removed == [id("b")] && changes.units.map(\.id) == [id("d")])
        #expect(reports.forgotten == LiveForgottenCounts(atCapacity: 1) && reports.lastCount == 3)
        #expect(picture.forgottenUnits.atCapacity == 1)
        // The spatial index forgot it too.
        #expect(picture.units(near: GeoPoint(latitude: 48, longitude: 2.1), radius: 10).isEmpty)
    }

    @Test("A newcomer heard before every unit held is the one not kept")
    func anOlderNewcomerIsNotKept() {
        let reports = Reports()
        let picture = picture(cap: 2, reports: reports)
        picture.apply([ping("a", 48, 2, time: t0.adding(seconds: 10)), ping("b", 48, 2.1, time: t0.adding(seconds: 11))])
        #expect(!picture.apply(ping("old", 48, 2.2, time: t0, received: t0)))
        #expect(located(picture) == ["a", "b"])
        #expect(reports.forgotten.atCapacity == 1)
    }

    @Test("A forgotten unit that pings again comes back with its callsign, kind and agency")
    func aForgottenUnitComesBack() {
        let picture = picture(cap: 2)
        picture.upsert(unit: Unit(id: id("a"), callsign: "Alpha 1", kind: .car, agency: .gendarmerie))
        picture.apply(ping("a", 48, 2, time: t0))
        picture.apply(ping("b", 48, 2.1, time: t0.adding(seconds: 1)))
        picture.apply(ping("c", 48, 2.2, time: t0.adding(seconds: 2)))
        #expect(picture.unit(id("a")) == nil && picture.unlocatedUnit(id("a"))?.callsign == "Alpha 1")
        picture.apply(ping("a", 48.5, 2, time: t0.adding(seconds: 3), status: .available))
        let back = picture.unit(id("a"))
        #expect(back?.callsign == "Alpha 1" && back?.kind == .car && back?.agency == .gendarmerie && back?.status == .available)
        #expect(back?.position == GeoPoint(latitude: 48.5, longitude: 2))
        #expect(picture.units(near: GeoPoint(latitude: 48.5, longitude: 2), radius: 1, filter: LiveUnitFilter(kinds: [.car])).map(\.unit.id) == [id("a")])
    }

    @Test("Units silent for forgetAfter are forgotten; the others stay")
    func silentUnitsAreForgotten() {
        let clock = TestClock(t0)
        let reports = Reports()
        let picture = picture(cap: 100, forgetAfter: 3_600, clock: clock, reports: reports)
        picture.apply([ping("a", 48, 2, time: t0), ping("b", 48, 2.1, time: t0.adding(seconds: 3_000))])
        let revision = picture.unitChanges(since: nil).revision
        clock.advance(seconds: 3_599)
        #expect(picture.forgetSilentUnits() == 0)
        clock.advance(seconds: 1)
        #expect(picture.forgetSilentUnits() == 1)
        #expect(located(picture) == ["b"])
        #expect(picture.unitChanges(since: revision).removed == [id("a")])
        #expect(reports.forgotten == LiveForgottenCounts(silent: 1) && reports.lastCount == 1)
        // Never, when told so.
        let forever = self.picture(cap: 100, forgetAfter: nil, clock: clock)
        forever.apply(ping("a", 48, 2, time: t0))
        clock.advance(seconds: 86_400 * 365)
        #expect(forever.forgetSilentUnits() == 0 && forever.unitCount == 1)
    }

    @Test("Metadata of units never located is bounded by the same cap")
    func unlocatedMetadataIsBounded() {
        let picture = picture(cap: 5)
        picture.upsert(units: (0..<100).map { Unit(id: id("U-\($0)"), callsign: "C \($0)") })
        #expect(picture.unlocatedUnitCount == 5)
        picture.upsert(unit: Unit(id: id("U-new"), callsign: "new"))
        #expect(picture.unlocatedUnitCount == 5 && picture.unlocatedUnit(id("U-new"))?.callsign == "new")
    }

    @Test("A stream of random ids stays at the cap, and the units kept are the most recently heard")
    func aStreamOfRandomIdsMatchesAModel() {
        var rng = SeededRandom(seed: 99)
        let cap = 50
        let reports = Reports()
        let picture = LivePicture(
            configuration: LivePictureConfiguration(applySliceSize: 7, maximumUnits: cap, forgetAfter: nil), clock: { t0 },
            onUnitCountChange: reports.record)
        // The model: receive times of the units held (all distinct, so "longest unheard" is one unit).
        var model: [String: Int64] = [:]
        var clock: Int64 = 1_000_000
        var names: [String] = []
        for round in 0..<400 {
            var batch: [Ping] = []
            for _ in 0..<Int.random(in: 1...20, using: &rng) {
                clock += 1
                let name: String
                if !names.isEmpty, Bool.random(using: &rng) {
                    name = names.randomElement(using: &rng)!  // heard again
                } else {
                    name = "R-\(round)-\(Int.random(in: 0..<1_000_000, using: &rng))"
                    names.append(name)
                }
                // Now and then a unit loaded from storage, heard long ago.
                let heard = Int.random(in: 0..<10, using: &rng) == 0 ? Int64.random(in: 0..<clock, using: &rng) * 2 + 1 : clock * 2
                batch.append(
                    ping(name, .random(in: 40...50, using: &rng), .random(in: 0...5, using: &rng), time: Timestamp(microseconds: heard),
                        received: Timestamp(microseconds: heard)))
            }
            picture.apply(batch)
            for ping in batch {
                let name = ping.unit.rawValue, heard = ping.receivedAt.microseconds
                if let known = model[name] {
                    model[name] = max(known, heard)
                } else if model.count < cap {
                    model[name] = heard
                } else if let oldest = model.min(by: { $0.value < $1.value }), oldest.value <= heard {
                    model[oldest.key] = nil
                    model[name] = heard
                }
            }
            #expect(located(picture) == Set(model.keys), "round \(round)")
            if located(picture) != Set(model.keys) { break }
        }
        #expect(picture.unitCount == cap)
        // Every unit held is in the index, once.
        #expect(picture.units(in: try! BoundingBox(west: -180, south: -90, east: 180, north: 90)).count == cap)
        #expect(reports.lastCount == cap && reports.forgotten.atCapacity == picture.forgottenUnits.atCapacity)
        #expect(picture.forgottenUnits.atCapacity > 1_000)
    }

    @Test("Units loaded heard long ago, in any order, are still forgotten oldest first")
    func oldArrivalsAreOrderedAmongTheCandidates() {
        // A cap of 1,600 picks 100 candidates per scan: the units heard at 2, 4, … 200.
        let cap = 1_600
        let picture = LivePicture(configuration: LivePictureConfiguration(maximumUnits: cap, forgetAfter: nil), clock: { t0 })
        var heard: [String: Int64] = [:]
        var batch: [Ping] = []
        for n in 1...cap {
            heard["N-\(n)"] = 2 * Int64(n)  // even; the arrivals below are odd: no ties
            batch.append(ping("N-\(n)", 48, 2, time: t0, received: Timestamp(microseconds: 2 * Int64(n))))
        }
        picture.apply(batch)
        var rng = SeededRandom(seed: 3)
        // Units loaded from storage, heard between the candidates, then a stream of new ones:
        // each arrival makes room by forgetting the unit heard from longest ago of all.
        let old = (1..<100).map { 2 * Int64($0) + 1 }.shuffled(using: &rng).prefix(60)
        let arrivals = [100_001] + old + (0..<300).map { 100_003 + 2 * Int64($0) }
        for (n, time) in arrivals.enumerated() {
            picture.apply(ping("A-\(n)", 48, 2, time: t0, received: Timestamp(microseconds: time)))
            heard["A-\(n)"] = time
            if let oldest = heard.min(by: { $0.value < $1.value }) { heard[oldest.key] = nil }
            // After every arrival, not only at the end: the order of forgetting is the point.
            guard located(picture) == Set(heard.keys) else {
                Issue.record("arrival \(n) (heard at \(time)): kept \(located(picture).subtracting(heard.keys)), forgot \(Set(heard.keys).subtracting(located(picture)))")
                return
            }
        }
    }

    @Test("The selection of candidates finds the value of every rank")
    func selectionFindsRanks() {
        var rng = SeededRandom(seed: 5)
        for _ in 0..<200 {
            let values = (0..<Int.random(in: 1...300, using: &rng)).map { _ in Int64.random(in: -20...20, using: &rng) }
            let rank = Int.random(in: 0..<values.count, using: &rng)
            var copy = values
            #expect(UnitTable.select(&copy, rank: rank) == values.sorted()[rank])
        }
    }
}
