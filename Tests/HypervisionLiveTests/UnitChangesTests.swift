import HypervisionCore
import Testing

@testable import HypervisionLive

@Suite("What changed among the units since a revision")
struct UnitChangesTests {
    @Test("Moves, metadata and removals are reported once per unit; ignored pings are not")
    func reportsWhatChanged() {
        let picture = LivePicture(clock: { t0 })
        let first = picture.unitChanges(since: nil)
        #expect(first.isComplete && first.units.isEmpty && first.revision == 0)
        picture.apply([ping("a", 48, 2, time: t0), ping("b", 48, 2.1, time: t0), ping("c", 48, 2.2, time: t0)])
        let all = picture.unitChanges(since: nil)
        #expect(all.isComplete && Set(all.units.map(\.id)) == [id("a"), id("b"), id("c")])

        let before = picture.unitChanges(since: all.revision)
        #expect(!before.isComplete && before.units.isEmpty && before.removed.isEmpty && before.revision == all.revision)
        picture.apply(ping("a", 48.1, 2, time: t0.adding(seconds: 1)))
        picture.apply(ping("a", 48.2, 2, time: t0.adding(seconds: 2)))
        // Older than the live position: nothing the walls show changes.
        picture.apply(ping("b", 40, 2, time: t0.adding(seconds: -5)))
        picture.upsert(unit: Unit(id: id("c"), callsign: "Charlie 1"))
        #expect(picture.remove(unit: id("b")))
        let changes = picture.unitChanges(since: all.revision)
        #expect(!changes.isComplete)
        #expect(changes.units.map(\.id).sorted { $0.rawValue < $1.rawValue } == [id("a"), id("c")])
        #expect(changes.units.first { $0.id == id("a") }?.position == GeoPoint(latitude: 48.2, longitude: 2))
        #expect(changes.units.first { $0.id == id("c") }?.callsign == "Charlie 1")
        #expect(changes.removed == [id("b")])
        #expect(changes.revision > all.revision)
        #expect(picture.unitChanges(since: changes.revision).units.isEmpty)
    }

    @Test("A consumer too far behind, or with a revision the picture never gave, gets every unit")
    func tooFarBehindGetsEverything() {
        let picture = LivePicture(clock: { t0 })
        picture.apply(ping("a", 48, 2, time: t0))
        let start = picture.unitChanges(since: nil).revision
        #expect(picture.unitChanges(since: start + 10).isComplete)
        for step in 1...UnitChangeJournal.capacity {
            picture.apply(ping("a", 48, 2, time: t0.adding(seconds: Double(step))))
        }
        let behind = picture.unitChanges(since: start)
        #expect(behind.isComplete && behind.units.map(\.id) == [id("a")])
        // Half the journal was dropped to make room; recent revisions are still answered in part.
        let recent = picture.unitChanges(since: behind.revision - 10)
        #expect(!recent.isComplete && recent.units.map(\.id) == [id("a")])
    }
}
