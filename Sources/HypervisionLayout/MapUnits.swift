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
///
/// The markers are double-buffered. The scene returned shares ``markers``, and that scene lives
/// on (the hub publishes it, the round keeps it to diff the next one) until the next scene
/// replaces it: changing ``markers`` in place would copy all of them, then free the old copy
/// when its scene went, every round. So an update writes the other buffer, the markers of the
/// computation before last, whose scene is gone by then: brought up to date with the keys that
/// last update changed, then changed, it becomes ``markers``, and the previous markers become
/// the spare. Only a caller that gives up the previous state (``LayoutEngine/compute(_:previous:seq:)``
/// consumes it) gets the spare uniquely; otherwise the spare is copied, which is correct, only slower.
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
    /// The markers as they were before ``spareBehindBy`` changed them (nil after a rebuild).
    private var spare: [String: SceneUnit]?
    /// The keys the last update changed: what ``spare`` lacks.
    private var spareBehindBy: [String] = []

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
    static func compute(_ inputs: LayoutInputs, viewports: [BoundingBox], previous: consuming MapUnits?) -> (MapUnits, changes: [String]?) {
        let tuning = inputs.wall.tuning
        if let changed = inputs.changedUnits, var next = previous.take(), next.viewports == viewports, inputs.now >= next.computedAt {
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
        // The buffer written: the spare, caught up with the last update; the first update after a
        // rebuild copies the markers instead.
        var markers: [String: SceneUnit]
        if var spare = self.spare.take() {
            for key in spareBehindBy { spare[key] = self.markers[key] }
            markers = spare
        } else {
            markers = self.markers
        }
        defer {
            spare = self.markers
            self.markers = markers
        }
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
        JSONValue.sortCanonically(&changes)
        spareBehindBy = changes
        return changes
    }

    private static func freshFixes(of markers: [String: SceneUnit]) -> Heap<FreshFix> {
        Heap(markers.values.lazy.filter { !$0.stale }.map { FreshFix(time: $0.time.microseconds, key: $0.id) })
    }
}
