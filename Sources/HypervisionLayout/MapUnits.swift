import HeapModule
import HypervisionCore

/// The unit markers of a wall's map tiles, kept from one computation to the next so that a round
/// costs time in proportion to the units that changed, not to the units on the map.
///
/// A marker depends on its unit, on whether the unit is inside a map viewport, and on the clock
/// (it turns stale ``LayoutTuning/unitStaleSeconds`` after its fix). So when the viewports are
/// the same as last time and the caller says which units changed (``LayoutInputs/changedUnits``),
/// only those units are looked at, plus the markers whose fix has just become too old: those are
/// found in a heap ordered by fix time. Anything else (first round, a viewport moved, the clock
/// went back, no change list) rebuilds every marker. Both ways give the same markers; the
/// property tests check it.
struct MapUnits: Sendable, Hashable {
    /// A fresh marker's fix time, to find it when it turns stale. Entries of units that moved
    /// on since are skipped when they surface (their time no longer matches).
    /// Ordered by fix time alone: which of two fixes of the same time comes out first does not
    /// matter, and comparing keys (strings) made building the heap cost more than the markers.
    struct FreshFix: Comparable, Sendable {
        var time: Int64
        var key: String
        static func < (a: FreshFix, b: FreshFix) -> Bool { a.time < b.time }
        static func == (a: FreshFix, b: FreshFix) -> Bool { a.time == b.time }
    }

    private(set) var markers: [String: SceneUnit] = [:]
    private(set) var viewports: [BoundingBox] = []
    private(set) var computedAt = Timestamp(microseconds: .min)
    /// Built on the first update after a rebuild: a wall rebuilt every round (its viewport
    /// follows moving units) never needs it.
    private var freshFixes: Heap<FreshFix>?

    static func == (a: MapUnits, b: MapUnits) -> Bool {
        a.markers == b.markers && a.viewports == b.viewports && a.computedAt == b.computedAt
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(markers)
        hasher.combine(viewports)
        hasher.combine(computedAt)
    }

    /// The markers for `inputs` seen through `viewports`, and the keys of markers that differ
    /// from `previous`'s in canonical order (nil when they were rebuilt and not compared).
    static func compute(_ inputs: LayoutInputs, viewports: [BoundingBox], previous: MapUnits?) -> (MapUnits, changes: [String]?) {
        let tuning = inputs.wall.tuning
        if var next = previous, let changed = inputs.changedUnits, next.viewports == viewports, inputs.now >= next.computedAt {
            let changes = next.update(changed, inputs: inputs, tuning: tuning)
            return (next, changes)
        }
        var rebuilt = MapUnits()
        rebuilt.viewports = viewports
        rebuilt.computedAt = inputs.now
        rebuilt.markers = SceneBuilder.units(inputs.units, viewports: viewports, now: inputs.now, tuning: tuning)
        return (rebuilt, nil)
    }

    private mutating func update(_ changed: Set<UnitID>, inputs: LayoutInputs, tuning: LayoutTuning) -> [String] {
        computedAt = inputs.now
        var freshFixes = self.freshFixes ?? Self.freshFixes(of: markers)
        self.freshFixes = nil  // unique while it changes
        var changes: [String] = []
        for id in changed {
            let key = id.rawValue
            if let unit = inputs.units[id], viewports.contains(where: { $0.contains(unit.position) }) {
                let marker = SceneBuilder.sceneUnit(unit, now: inputs.now, tuning: tuning)
                guard markers[key] != marker else { continue }
                markers[key] = marker
                changes.append(key)
                if !marker.stale { freshFixes.insert(FreshFix(time: marker.time.microseconds, key: key)) }
            } else if markers.removeValue(forKey: key) != nil {
                changes.append(key)
            }
        }
        // Markers whose fix has just become too old. Staleness only grows with the clock, so the
        // oldest fixes are the only candidates, and the first fresh one ends the search.
        while let oldest = freshFixes.min, SceneBuilder.isStale(fixTime: Timestamp(microseconds: oldest.time), now: inputs.now, tuning: tuning) {
            freshFixes.removeMin()
            guard var marker = markers[oldest.key], !marker.stale, marker.time.microseconds == oldest.time else { continue }
            marker.stale = true
            markers[oldest.key] = marker
            changes.append(oldest.key)
        }
        // Entries of units that moved on pile up; start afresh once they outnumber the markers.
        self.freshFixes = freshFixes.count > 2 * markers.count + 64 ? Self.freshFixes(of: markers) : freshFixes
        changes.sort(by: JSONValue.utf8Precedes)
        return changes
    }

    private static func freshFixes(of markers: [String: SceneUnit]) -> Heap<FreshFix> {
        Heap(markers.values.lazy.filter { !$0.stale }.map { FreshFix(time: $0.time.microseconds, key: $0.id) })
    }
}
