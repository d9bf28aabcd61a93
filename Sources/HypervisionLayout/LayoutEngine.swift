import HypervisionCore

/// What the engine remembers between two computations of one wall, so that the wall stays calm.
///
/// Opaque to callers: keep the state returned by one ``LayoutEngine/compute(_:previous:seq:)``
/// and pass it to the next. A state computed for another wall definition is ignored.
public struct LayoutState: Sendable, Hashable {
    /// Where a camera sits in an automatic camera region.
    struct Placement: Sendable, Hashable {
        var region: Int
        var slot: Int
        /// When it entered this slot (dwell protection against demotion).
        var placedAt: Timestamp
        /// When it came onto the wall (dwell protection against replacement).
        var shownSince: Timestamp
    }

    /// Where a camera that left the wall was last shown, so it comes back to the same place.
    struct LastShown: Sendable, Hashable {
        var region: Int
        var center: (x: Int, y: Int)
        var at: Timestamp

        static func == (a: LastShown, b: LastShown) -> Bool {
            a.region == b.region && a.center == b.center && a.at == b.at
        }
        func hash(into hasher: inout Hasher) {
            hasher.combine(region)
            hasher.combine(center.x)
            hasher.combine(center.y)
            hasher.combine(at)
        }
    }

    var wall: WallDefinition?
    var placements: [String: Placement] = [:]
    var lastShown: [String: LastShown] = [:]
    /// Canvas rectangle of every tile of the previous scene, to count moves.
    var tileRects: [String: PixelRect] = [:]
    /// The unit markers of the scene, kept to update them next time.
    var mapUnits: MapUnits?
    /// The cameras of the inputs, kept while their revision stays the same.
    var cameras: CameraDirectory?
    /// The ids of the unit markers that differ from those of the previous state's scene, in
    /// canonical order; nil when the markers were rebuilt rather than updated (compare them all).
    /// ``SceneUnit/changes(from:to:keys:)`` turns them into patch operations.
    public internal(set) var unitChanges: [String]?

    /// How long a departed camera's place is remembered, and how many are remembered at most.
    static let lastShownSeconds: Int64 = 3_600
    static let lastShownCapacity = 1_024

    public init() {}
}

/// Decides what a wall shows: a pure, deterministic function of the inputs and the previous state.
///
/// ## The rules, precisely
/// - **Eligibility.** A camera may be shown when some rule makes it a ``Candidate``, it is
///   known to the live state, and it is online or degraded. An offline camera is shown only when
///   pinned, or when it was already on the wall and has been offline for less than
///   ``LayoutTuning/offlineGraceSeconds`` (its tile then says `offline`); after that it is replaced.
/// - **Incumbents** (cameras on the wall in the previous state) keep their tile while eligible.
///   A camera that loses its last reason leaves, so when an alarm ends its region returns to its
///   normal content.
/// - **Challengers** (eligible cameras not on the wall), best first, take a free slot of their
///   region (the largest free one; among equal sizes the one nearest where the camera was last
///   shown, else the first in slot order). With no free slot, a challenger replaces the weakest
///   incumbent only if its priority exceeds that incumbent's by ``LayoutTuning/replacementMargin``
///   and the incumbent has been on the wall for ``LayoutTuning/minimumDwellSeconds`` — or the
///   challenger is urgent (priority ≥ ``LayoutTuning/urgentPriority``, pins and emergencies) and
///   the incumbent is not.
/// - **Order.** Within each camera region, no larger slot is empty while a smaller one is used,
///   and for any two tiles A (larger) and B (smaller): `priority(A) + margin ≥ priority(B)`,
///   unless A is *dwell-protected*: A was already in that slot in the previous state, for less
///   than the minimum dwell, and B is not urgent. The engine swaps pairs that break this until
///   none does; the number of tiles that changed place is reported as the scene's `moved`.
public enum LayoutEngine {
    /// Computes the scene and the state to pass to the next computation.
    ///
    /// Same `inputs`, `previous` and `seq` give a byte-identical scene: nothing depends on
    /// dictionary order, the system clock, or floating-point functions that vary by platform.
    ///
    /// `previous` is consumed: a caller that lets go of it (passes its only copy) lets the engine
    /// reuse its marker storage in place (see ``MapUnits``) instead of copying it.
    public static func compute(_ inputs: LayoutInputs, previous: consuming LayoutState?, seq: Int64 = 0) -> (Scene, LayoutState) {
        let wall = inputs.wall
        let tuning = wall.tuning
        let now = inputs.now
        var state = LayoutState()
        state.wall = wall.definition
        var previousPlacements: [String: LayoutState.Placement] = [:]
        if let previous, previous.wall == wall.definition {
            previousPlacements = previous.placements
            state.lastShown = previous.lastShown
        }

        // 1. Candidates, and which of them may be shown.
        let cameras = CameraDirectory.of(inputs, previous: previous?.cameras)
        state.cameras = cameras
        let ranking = PriorityRules.rank(inputs, cameras: cameras)
        // By position in `ranking.offered`.
        var isEligible = [Bool](repeating: false, count: ranking.offered.count)
        let graceMicroseconds = Int64(tuning.offlineGraceSeconds * 1_000_000)
        for at in ranking.offered.indices {
            if let offlineSince = ranking.offlineSince[at] {
                let pinned = if case .pinned = ranking.offered[at].reason { true } else { false }
                let withinGrace =
                    previousPlacements[ranking.offered[at].camera] != nil
                    && now.microseconds - offlineSince.microseconds < graceMicroseconds
                guard pinned || withinGrace else { continue }
            }
            isEligible[at] = true
        }
        let candidates = EligibleCandidates(ranking: ranking, isEligible: isEligible)

        // 2. The slot pool of the automatic camera regions.
        var pool = SlotPool(wall: wall)

        // 3. Incumbents keep their slots while eligible and still allowed there.
        for (camera, placement) in previousPlacements.sorted(by: { $0.key < $1.key }) {
            guard let candidate = candidates[camera], pool.contains(region: placement.region, slot: placement.slot),
                pool.allows(candidate, region: placement.region), pool.occupant(placement.region, placement.slot) == nil
            else { continue }
            pool.place(camera, region: placement.region, slot: placement.slot)
            state.placements[camera] = placement
        }

        // 4. Challengers, best first: free slots, then replacement by margin and dwell.
        var noFreeSlotLeft = pool.freeCount == 0
        for at in ranking.order where isEligible[at] {
            // Once an unconstrained challenger found nobody to replace, no weaker one will either
            // (most of the candidates of a busy wall end here, before any lookup).
            if noFreeSlotLeft && ranking.offered[at].region == nil && pool.lastFailedUnconstrained != nil { continue }
            let camera = ranking.offered[at].camera
            guard state.placements[camera] == nil else { continue }
            if !noFreeSlotLeft, let (region, slot) = pool.bestFreeSlot(for: ranking.offered[at], lastShown: state.lastShown[camera]) {
                pool.place(camera, region: region, slot: slot)
                state.placements[camera] = .init(region: region, slot: slot, placedAt: now, shownSince: now)
                noFreeSlotLeft = pool.freeCount == 0
                continue
            }
            if let victim = pool.weakestReplaceable(
                by: ranking.offered[at], candidates: candidates, placements: state.placements, now: now, tuning: tuning)
            {
                guard let old = state.placements.removeValue(forKey: victim) else { continue }
                pool.place(camera, region: old.region, slot: old.slot)
                state.placements[camera] = .init(region: old.region, slot: old.slot, placedAt: now, shownSince: now)
            } else if ranking.offered[at].region == nil {
                pool.lastFailedUnconstrained = camera
            }
        }

        // 5. Order: larger tiles to higher priorities, except dwell-protected incumbents.
        pool.restoreOrder(
            candidates: candidates, placements: &state.placements, previous: previousPlacements, now: now,
            tuning: tuning)

        // 6. Remember where departing cameras were, so they come back to the same place.
        for (camera, placement) in previousPlacements where state.placements[camera] == nil {
            let rect = pool.rect(placement.region, placement.slot) ?? PixelRect(x: 0, y: 0, width: 0, height: 0)
            state.lastShown[camera] = .init(region: placement.region, center: rect.doubledCenter, at: now)
        }
        for camera in state.placements.keys { state.lastShown.removeValue(forKey: camera) }
        pruneLastShown(&state.lastShown, now: now)

        // 7. The scene.
        var builder = SceneBuilder(inputs: inputs)
        for placed in wall.regions {
            builder.addRegionTiles(placed)
        }
        for (camera, placement) in state.placements {
            guard let candidate = candidates[camera], let rect = pool.rect(placement.region, placement.slot) else { continue }
            builder.addCameraTile(
                camera, region: wall.regions[placement.region], slot: placement.slot, rect: rect,
                reason: candidate.reason.description)
        }
        // Taken out of the previous state, not copied: its storage is then unique and updated in place.
        let previousMapUnits = previous?.wall == wall.definition ? previous?.mapUnits.take() : nil
        let (mapUnits, unitChanges) = MapUnits.compute(inputs, viewports: builder.mapViewports, previous: previousMapUnits)
        state.mapUnits = mapUnits
        state.unitChanges = unitChanges
        var scene = builder.scene(seq: seq, units: mapUnits.markers)
        var moved = 0
        if let previous, previous.wall == wall.definition {
            for (id, tile) in scene.tiles {
                if let before = previous.tileRects[id], before != tile.rect { moved += 1 }
            }
        }
        scene.moved = moved
        state.tileRects.reserveCapacity(scene.tiles.count)
        for (id, tile) in scene.tiles { state.tileRects[id] = tile.rect }
        return (scene, state)
    }

    /// Moves one unit's marker in `scene` without recomputing the wall, when that cannot change
    /// anything else; returns false, leaving `scene` as it was, when a full
    /// ``compute(_:previous:seq:)`` is needed.
    ///
    /// In place, so that a scene nobody else holds is updated without copying its markers.
    /// `inputs` already holds the unit's new position. The result equals what `compute` would
    /// give with the same previous state and the clock of `scene` (`inputs.now` is ignored: a
    /// marker update does not advance the wall's clock, the next full recompute does). A full
    /// recompute is needed when the unit is or was in emergency (cameras follow it).
    public static func moveUnit(_ unit: LayoutUnit, previously old: LayoutUnit?, in scene: inout Scene, inputs: LayoutInputs) -> Bool {
        guard unit.status != .emergency, old?.status != .emergency else { return false }
        let tuning = inputs.wall.tuning
        var mapInputs = inputs
        mapInputs.now = scene.generatedAt
        let refitting = inputs.wall.regions.contains { placed in
            if case .map(let policy) = placed.region.content { return policy.fit.contains(.units) }
            return false
        }
        var viewports: [BoundingBox] = []
        for placed in inputs.wall.regions {
            guard case .map(let policy) = placed.region.content else { continue }
            let viewport =
                refitting
                ? MapViewport.compute(policy, tile: placed.rect, inputs: mapInputs)
                : (scene.tiles[placed.region.id].flatMap { tile -> BoundingBox? in
                    if case .map(_, let box) = tile.source { return box }
                    return nil
                } ?? MapViewport.compute(policy, tile: placed.rect, inputs: mapInputs))
            viewports.append(viewport)
            if refitting, var tile = scene.tiles[placed.region.id] {
                tile.source = .map(id: placed.region.id, viewport: viewport)
                scene.tiles[placed.region.id] = tile
            }
        }
        if refitting {
            scene.units = SceneBuilder.units(inputs.units, viewports: viewports, now: scene.generatedAt, tuning: tuning)
        } else {
            let key = unit.id.rawValue
            if viewports.contains(where: { $0.contains(unit.position) }) {
                scene.units[key] = SceneBuilder.sceneUnit(unit, now: scene.generatedAt, tuning: tuning)
            } else {
                scene.units.removeValue(forKey: key)
            }
        }
        return true
    }

    private static func pruneLastShown(_ lastShown: inout [String: LayoutState.LastShown], now: Timestamp) {
        guard lastShown.count > LayoutState.lastShownCapacity else { return }
        let horizon = now.microseconds - LayoutState.lastShownSeconds * 1_000_000
        lastShown = lastShown.filter { $0.value.at.microseconds >= horizon }
        guard lastShown.count > LayoutState.lastShownCapacity else { return }
        let keep = lastShown.sorted { a, b in a.value.at != b.value.at ? a.value.at > b.value.at : a.key < b.key }
            .prefix(LayoutState.lastShownCapacity)
        lastShown = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
    }
}

/// The candidates that may be shown, by camera.
struct EligibleCandidates {
    let ranking: CandidateRanking
    /// By position in `ranking.offered`.
    let isEligible: [Bool]

    subscript(camera: String) -> Candidate? {
        guard let at = ranking.offer(of: camera), isEligible[at] else { return nil }
        return ranking.offered[at]
    }
}

/// The slots of the automatic camera regions and who occupies them.
struct SlotPool {
    struct Slot {
        var region: Int
        var index: Int
        var rect: PixelRect
        var occupant: String?
    }

    /// All slots, in pool order: larger first, then region order, then slot order.
    private(set) var slots: [Slot] = []
    /// Index into `slots` of (region, slot).
    private var position: [Int: [Int]] = [:]
    private var regionIndexByID: [String: Int] = [:]
    private(set) var freeCount = 0
    var lastFailedUnconstrained: String?

    init(wall: WallLayout) {
        for placed in wall.regions {
            guard case .cameras = placed.region.content else { continue }
            regionIndexByID[placed.region.id] = placed.index
            for (index, rect) in placed.slots.enumerated() {
                slots.append(Slot(region: placed.index, index: index, rect: rect))
            }
        }
        slots.sort { a, b in
            if a.rect.area != b.rect.area { return a.rect.area > b.rect.area }
            if a.region != b.region { return a.region < b.region }
            return a.index < b.index
        }
        for (offset, slot) in slots.enumerated() {
            position[slot.region, default: []].append(offset)
        }
        for region in position.keys {
            position[region]?.sort { slots[$0].index < slots[$1].index }
        }
        freeCount = slots.count
    }

    private func offset(_ region: Int, _ slot: Int) -> Int? {
        guard let list = position[region], slot >= 0, slot < list.count else { return nil }
        return list[slot]
    }

    func contains(region: Int, slot: Int) -> Bool { offset(region, slot) != nil }
    func occupant(_ region: Int, _ slot: Int) -> String? { offset(region, slot).flatMap { slots[$0].occupant } }
    func rect(_ region: Int, _ slot: Int) -> PixelRect? { offset(region, slot).map { slots[$0].rect } }

    func allows(_ candidate: Candidate, region: Int) -> Bool {
        guard let wanted = candidate.region else { return true }
        return regionIndexByID[wanted] == region
    }

    mutating func place(_ camera: String, region: Int, slot: Int) {
        guard let offset = offset(region, slot) else { return }
        if slots[offset].occupant == nil { freeCount -= 1 }
        slots[offset].occupant = camera
    }

    private mutating func vacate(_ offset: Int) {
        if slots[offset].occupant != nil { freeCount += 1 }
        slots[offset].occupant = nil
    }

    /// The largest free slot the candidate may use; among equal sizes the nearest to where it
    /// was last shown (in the same region), else the first in pool order.
    func bestFreeSlot(for candidate: Candidate, lastShown: LayoutState.LastShown?) -> (Int, Int)? {
        guard freeCount > 0 else { return nil }
        var best: Int?
        var bestDistance = Int.max
        for (offset, slot) in slots.enumerated() where slot.occupant == nil && allows(candidate, region: slot.region) {
            if let current = best, slots[current].rect.area != slot.rect.area { break }
            guard let lastShown, lastShown.region == slot.region else {
                if best == nil { best = offset }
                continue
            }
            let center = slot.rect.doubledCenter
            let dx = center.x - lastShown.center.x, dy = center.y - lastShown.center.y
            let distance = dx * dx + dy * dy
            if distance < bestDistance {
                best = offset
                bestDistance = distance
            }
        }
        return best.map { (slots[$0].region, slots[$0].index) }
    }

    /// The incumbent a challenger may replace: the lowest-priority one in a slot the challenger
    /// may use, beaten by the margin, and past its dwell time unless the challenger is urgent.
    func weakestReplaceable(
        by challenger: Candidate, candidates: EligibleCandidates, placements: [String: LayoutState.Placement],
        now: Timestamp, tuning: LayoutTuning
    ) -> String? {
        let dwell = Int64(tuning.minimumDwellSeconds * 1_000_000)
        let challengerUrgent = challenger.priority >= tuning.urgentPriority
        var weakest: Candidate?
        for slot in slots {
            guard let occupant = slot.occupant, allows(challenger, region: slot.region),
                let incumbent = candidates[occupant], let placement = placements[occupant]
            else { continue }
            guard incumbent.priority + tuning.replacementMargin < challenger.priority else { continue }
            let dwelt = now.microseconds - placement.shownSince.microseconds >= dwell
            let overridden = challengerUrgent && incumbent.priority < tuning.urgentPriority
            guard dwelt || overridden else { continue }
            if let current = weakest, !Candidate.precedes(current, incumbent) { continue }
            weakest = incumbent
        }
        return weakest?.camera
    }

    /// Swaps tiles within each region until larger tiles never hold lower priorities (beyond the
    /// margin) except dwell-protected incumbents, and no larger slot is empty while a smaller one
    /// is used. Each swap strictly raises Σ priority × area, so the loop ends; it is also bounded.
    mutating func restoreOrder(
        candidates: EligibleCandidates, placements: inout [String: LayoutState.Placement],
        previous: [String: LayoutState.Placement], now: Timestamp, tuning: LayoutTuning
    ) {
        let dwell = Int64(tuning.minimumDwellSeconds * 1_000_000)
        for region in position.keys.sorted() {
            guard let offsets = position[region] else { continue }
            // Offsets in pool order restricted to this region: larger slots first.
            let ordered = offsets.sorted()
            var budget = ordered.count * ordered.count + 1
            var changed = true
            while changed && budget > 0 {
                changed = false
                budget -= 1
                // The best-placed candidates claim first.
                let occupied = ordered.compactMap { offset -> (Int, Candidate)? in
                    guard let camera = slots[offset].occupant, let candidate = candidates[camera] else { return nil }
                    return (offset, candidate)
                }
                // Sorting positions avoids copying candidates (and their strings) around.
                let claimOrder = occupied.indices.sorted { Candidate.precedes(occupied[$0].1, occupied[$1].1) }
                search: for (lowerOffset, riser) in claimOrder.lazy.map({ occupied[$0] }) {
                    let riserUrgent = riser.priority >= tuning.urgentPriority
                    for upperOffset in ordered {
                        guard slots[upperOffset].rect.area > slots[lowerOffset].rect.area else { break }
                        guard let holder = slots[upperOffset].occupant else {
                            move(from: lowerOffset, to: upperOffset, placements: &placements, now: now)
                            changed = true
                            break search
                        }
                        guard let held = candidates[holder], let placement = placements[holder] else { continue }
                        guard held.priority + tuning.replacementMargin < riser.priority else { continue }
                        let wasHere = previous[holder].map { $0.region == placement.region && $0.slot == placement.slot } ?? false
                        let protected =
                            wasHere && placement.placedAt < now && now.microseconds - placement.placedAt.microseconds < dwell
                            && !riserUrgent
                        guard !protected else { continue }
                        swap(lowerOffset, upperOffset, placements: &placements, now: now)
                        changed = true
                        break search
                    }
                }
            }
        }
    }

    private mutating func move(from source: Int, to target: Int, placements: inout [String: LayoutState.Placement], now: Timestamp) {
        guard let camera = slots[source].occupant else { return }
        vacate(source)
        place(camera, region: slots[target].region, slot: slots[target].index)
        placements[camera]?.slot = slots[target].index
        placements[camera]?.placedAt = now
    }

    private mutating func swap(_ a: Int, _ b: Int, placements: inout [String: LayoutState.Placement], now: Timestamp) {
        let first = slots[a].occupant, second = slots[b].occupant
        slots[a].occupant = second
        slots[b].occupant = first
        if let first {
            placements[first]?.slot = slots[b].index
            placements[first]?.placedAt = now
        }
        if let second {
            placements[second]?.slot = slots[a].index
            placements[second]?.placedAt = now
        }
    }
}
