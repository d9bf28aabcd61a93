public import HypervisionCore
import Synchronization

/// The command room's live picture: the latest position of every unit with a spatial index, the
/// cameras, and the active incidents. Pure memory, no I/O; the ingest pipeline feeds it before the
/// database write completes, and start-up rebuilds it from PostGIS with ``load(positions:)``.
///
/// ## Concurrency
/// A `final class` holding three independent `Mutex`es (units, cameras, incidents), so a camera
/// import never delays ping ingest and the other way round. The invariant: all unit state — the
/// slot array, the id→slot dictionary, the grid, and the metadata of units not yet located —
/// changes only inside one `units.withLock`, so a reader always sees a consistent table; no lock is
/// ever held while taking another. Readers hold the lock only to copy candidates out of the grid
/// (a few µs for a 1 km radius); exact geodesic tests, polygon tests and sorting run after the lock
/// is released. Writers apply a batch in slices of ``LivePictureConfiguration/applySliceSize``
/// pings so a large batch never blocks readers for long. Nothing here suspends, so a `Mutex` is
/// the right tool: an actor would add a hop per ping and re-entrancy for no gain.
///
/// ## Time
/// Device time (``Ping/time``) orders positions: a ping no newer than the unit's current position
/// is ignored for the live state (it is still history for PostGIS). Receive time
/// (``Ping/receivedAt``) drives staleness: a unit whose last ping arrived `staleAfter` seconds ago
/// or more is stale, with ``LiveUnit/staleSince`` = last heard + `staleAfter`. The current time
/// comes from the injected `clock`, so tests control it.
///
/// ## Bounds
/// At most ``LivePictureConfiguration/maximumUnits`` located units are held: a new unit beyond
/// it makes room by forgetting the one heard from longest ago, and ``forgetSilentUnits()``
/// forgets units silent for ``LivePictureConfiguration/forgetAfter``. A forgotten unit is a
/// removal for ``unitChanges(since:)`` consumers (walls drop its marker); its metadata is kept
/// (bounded the same way), so when it is heard again it comes back as before. Picking whom to
/// forget costs a scan of the receive times once per batch of candidates, never per ping.
///
/// ## Distances
/// Every distance is Vincenty's geodesic on WGS 84 (``Geodesy/distance(_:_:)``), the spheroid
/// PostGIS's `ST_DWithin(geography, geography, r)` and `ST_Distance(geography, geography)` use by
/// default. ``nearest(to:k:filter:)`` orders by that distance, then by unit id; PostGIS's
/// geography `<->` orders by the sphere instead, so compare against `ORDER BY ST_Distance(…)`.
public final class LivePicture: Sendable {
    /// The settings the picture was created with.
    public let configuration: LivePictureConfiguration
    private let clock: @Sendable () -> Timestamp
    private let units: Mutex<UnitTable>
    private let cameras: Mutex<CameraTable>
    private let incidents: Mutex<[String: Incident]>
    private let onUnitCountChange: (@Sendable (LiveUnitCountChange) -> Void)?

    /// Creates an empty picture. `clock` gives the current time for staleness; tests inject one.
    /// `onUnitCountChange` hears, outside the lock, of every change that added, removed or
    /// forgot located units (metrics); never of a ping that only moved its unit.
    public init(
        configuration: LivePictureConfiguration = LivePictureConfiguration(),
        clock: @escaping @Sendable () -> Timestamp = { Timestamp.now() },
        onUnitCountChange: (@Sendable (LiveUnitCountChange) -> Void)? = nil
    ) {
        self.configuration = configuration
        self.clock = clock
        self.onUnitCountChange = onUnitCountChange
        self.units = Mutex(UnitTable(grid: SpatialGrid(cellDegrees: configuration.cellDegrees), maximumUnits: configuration.maximumUnits))
        self.cameras = Mutex(CameraTable(grid: SpatialGrid(cellDegrees: configuration.cameraCellDegrees)))
        self.incidents = Mutex([:])
    }

    // MARK: - Units: updates

    /// Applies one ping; returns whether it became the unit's live position (false when the
    /// picture already holds a position of the same or a later device time).
    /// A ping of a new unit, at ``LivePictureConfiguration/maximumUnits`` and heard before every
    /// unit held, is not kept either (false).
    @discardableResult
    public func apply(_ ping: Ping) -> Bool {
        let (applied, change) = units.withLock { table in
            let before = table.census
            let applied = table.apply(ping)
            return (applied, table.change(since: before))
        }
        if let change { onUnitCountChange?(change) }
        return applied
    }

    /// Applies a batch in order; the result says, per ping, whether it moved its unit.
    @discardableResult
    public func apply(_ pings: some Collection<Ping>) -> LiveApplyResult {
        var applied: [Bool] = []
        applied.reserveCapacity(pings.count)
        var index = pings.startIndex
        var change: LiveUnitCountChange?
        while index != pings.endIndex {
            let end = pings.index(index, offsetBy: configuration.applySliceSize, limitedBy: pings.endIndex) ?? pings.endIndex
            let slice = pings[index..<end]
            let (outcome, sliceChange) = units.withLock { table in
                let before = table.census
                var outcome: [Bool] = []
                outcome.reserveCapacity(slice.count)
                for ping in slice { outcome.append(table.apply(ping)) }
                return (outcome, table.change(since: before))
            }
            if let sliceChange { change = change.map { $0.followed(by: sliceChange) } ?? sliceChange }
            applied.append(contentsOf: outcome)
            index = end
        }
        if let change { onUnitCountChange?(change) }
        return LiveApplyResult(applied: applied)
    }

    /// Rebuilds positions at start-up from the latest row per unit in PostGIS. Same rules as
    /// ``apply(_:)`` (never backwards), so loading after live pings have arrived is safe;
    /// `receivedAt` of each ping should be the stored receive time so staleness survives a restart.
    public func load(positions: some Collection<Ping>) {
        units.withLock { $0.reserveCapacity(min($0.slots.count + positions.count, $0.maximumUnits)) }
        apply(positions)
    }

    /// Sets a unit's metadata (callsign, kind, agency). A unit not yet located keeps its metadata
    /// until its first ping places it.
    public func upsert(unit: Unit) {
        units.withLock { $0.upsert(unit) }
    }

    /// Sets the metadata of many units under one lock (start-up, registry sync).
    public func upsert(units list: some Sequence<Unit>) {
        units.withLock { table in
            for unit in list { table.upsert(unit) }
        }
    }

    /// Forgets a unit (decommissioned); returns whether it was known.
    @discardableResult
    public func remove(unit id: UnitID) -> Bool {
        let (removed, change) = units.withLock { table in
            let before = table.census
            let removed = table.remove(id)
            return (removed, table.change(since: before))
        }
        if let change { onUnitCountChange?(change) }
        return removed
    }

    /// Forgets the located units not heard from (by receive time) for
    /// ``LivePictureConfiguration/forgetAfter``; returns how many. Called now and then (a
    /// service of the daemon), so a sender that stopped does not stay in memory for ever.
    /// Done in slices of ``LivePictureConfiguration/applySliceSize`` so readers are never held
    /// up for long.
    @discardableResult
    public func forgetSilentUnits() -> Int {
        guard let forgetAfter = configuration.forgetAfter else { return 0 }
        let cutoff = clock().microseconds - Int64((forgetAfter * 1_000_000).rounded())
        let silent = units.withLock { $0.units(heardAtOrBefore: cutoff) }
        var change: LiveUnitCountChange?
        var start = 0
        while start < silent.count {
            let slice = silent[start..<min(silent.count, start + configuration.applySliceSize)]
            let sliceChange = units.withLock { table in
                let before = table.census
                for id in slice { _ = table.forgetIfSilent(id, cutoff: cutoff) }
                return table.change(since: before)
            }
            if let sliceChange { change = change.map { $0.followed(by: sliceChange) } ?? sliceChange }
            start = slice.endIndex
        }
        if let change { onUnitCountChange?(change) }
        return change?.forgotten.silent ?? 0
    }

    /// Located units forgotten so far, by reason (see ``LivePictureConfiguration/maximumUnits``
    /// and ``LivePictureConfiguration/forgetAfter``).
    public var forgottenUnits: LiveForgottenCounts { units.withLock { $0.forgotten } }

    /// Units known only by their metadata (registry data, a callsign), without a position.
    public var unlocatedUnitCount: Int { units.withLock { $0.unlocated.count } }

    // MARK: - Units: queries

    /// Units with a live position.
    public var unitCount: Int { units.withLock { $0.slots.count } }

    /// One unit's live state, or nil when it has never been located.
    public func unit(_ id: UnitID) -> LiveUnit? {
        let now = clock()
        return units.withLock { table in
            table.slotByID[id].map { table.snapshot(Int($0), now: now, staleAfter: staleAfterMicroseconds) }
        }
    }

    /// The metadata of a unit known from the registry but never located yet.
    public func unlocatedUnit(_ id: UnitID) -> Unit? {
        units.withLock { $0.unlocated[id] }
    }

    /// Every located unit that passes `filter`, in no particular order.
    public func allUnits(filter: LiveUnitFilter = .all) -> [LiveUnit] {
        let (now, staleBefore) = times()
        return units.withLock { table in
            let compiled = table.compile(filter, staleBefore: staleBefore)
            var result: [LiveUnit] = []
            for slot in table.slots.indices where table.accepts(slot, compiled) {
                result.append(table.snapshot(slot, now: now, staleAfter: staleAfterMicroseconds))
            }
            return result
        }
    }

    /// The located units that changed (moved, got metadata, were removed) since `revision`, a
    /// value from an earlier answer; every unit when `revision` is nil or too far behind. Lets a
    /// consumer that keeps its own copy of the units update it in time proportional to what changed.
    public func unitChanges(since revision: UInt64?) -> LiveUnitChanges {
        let now = clock()
        let staleAfter = staleAfterMicroseconds
        return units.withLock { table in
            let current = table.journal.revision
            if let revision, let ids = table.journal.changed(since: revision) {
                var changes = LiveUnitChanges(revision: current, isComplete: false)
                changes.units.reserveCapacity(ids.count)
                for id in ids {
                    if let slot = table.slotByID[id] {
                        changes.units.append(table.snapshot(Int(slot), now: now, staleAfter: staleAfter))
                    } else {
                        changes.removed.append(id)
                    }
                }
                return changes
            }
            var changes = LiveUnitChanges(revision: current, isComplete: true)
            changes.units.reserveCapacity(table.slots.count)
            for slot in table.slots.indices { changes.units.append(table.snapshot(slot, now: now, staleAfter: staleAfter)) }
            return changes
        }
    }

    /// Units within `radius` metres (geodesic, WGS 84) of `center`, like PostGIS
    /// `ST_DWithin(position, center, radius)` on geography; the boundary counts as inside.
    /// Nearest first, ties by unit id; each result carries its distance.
    public func units(near center: GeoPoint, radius: Double, filter: LiveUnitFilter = .all) -> [LiveUnitResult] {
        guard radius >= 0, center.isFinite else { return [] }
        let candidates = collect(in: QueryRange(around: center, radius: radius), filter: filter)
        // The exact test runs outside the lock. Sorting 8-byte keys and copying each 160-byte
        // result once is several times faster than sorting the results themselves.
        var order: [(distance: Double, index: Int32)] = []
        order.reserveCapacity(candidates.count)
        for (index, candidate) in candidates.enumerated() {
            let distance = Geodesy.distance(center, candidate.unit.position)
            if distance <= radius { order.append((distance, Int32(index))) }
        }
        order.sort { a, b in
            a.distance != b.distance
                ? a.distance < b.distance : candidates[Int(a.index)].unit.id < candidates[Int(b.index)].unit.id
        }
        return order.map { key in
            var result = candidates[Int(key.index)]
            result.distance = key.distance
            return result
        }
    }

    /// The `k` units nearest to `center` by geodesic distance (Vincenty on WGS 84), nearest first,
    /// ties by unit id; fewer when fewer units pass `filter`.
    ///
    /// Searches a disc sized from the local density, and widens it until it holds `k` units:
    /// every unit outside a disc of radius r is farther than r, so once k units lie within r the
    /// k nearest are among them.
    public func nearest(to center: GeoPoint, k: Int, filter: LiveUnitFilter = .all) -> [LiveUnitResult] {
        guard k > 0, center.isFinite else { return [] }
        let (now, staleBefore) = times()
        let staleAfter = staleAfterMicroseconds
        return units.withLock { table -> [LiveUnitResult] in
            guard !table.slots.isEmpty else { return [] }
            let compiled = table.compile(filter, staleBefore: staleBefore)
            let cellMetres = table.grid.cellDegrees * 111_000
            let local = table.grid.memberCount(at: center)
            // Aim for about 2k units in the first disc: a cell holds `local` units in cellMetres².
            var radius = local > 0 ? cellMetres * (2 * Double(k) / (Double.pi * Double(local))).squareRoot() : cellMetres
            var found: [(slot: Int32, distance: Double)] = []
            while true {
                let range = QueryRange(around: center, radius: radius)
                // A disc wider than half the Earth's circumference reaches everything.
                let everything = range.coversEverything || radius >= 20_100_000
                found.removeAll(keepingCapacity: true)
                table.grid.forEach(in: everything ? .everything : range) { member in
                    if !table.accepts(Int(member.slot), compiled) { return }
                    let distance = Geodesy.distance(
                        center, GeoPoint(latitude: member.latitude, longitude: member.longitude))
                    if everything || distance <= radius { found.append((member.slot, distance)) }
                }
                if found.count >= k || everything { break }
                // Grow by the density seen so far (area ∝ r²), at least doubling, at most ×16.
                let growth = found.isEmpty ? 4 : (Double(k) / Double(found.count)).squareRoot() * 1.3
                radius *= min(16, max(2, growth))
            }
            found.sort { a, b in
                a.distance != b.distance ? a.distance < b.distance : table.slots[Int(a.slot)].id < table.slots[Int(b.slot)].id
            }
            return found.prefix(k).map {
                LiveUnitResult(unit: table.snapshot(Int($0.slot), now: now, staleAfter: staleAfter), distance: $0.distance)
            }
        }
    }

    /// Units inside `box` (edges included; west > east crosses the antimeridian), in no particular
    /// order. See ``BoundingBox`` for the exact semantics.
    public func units(in box: BoundingBox, filter: LiveUnitFilter = .all) -> [LiveUnitResult] {
        collect(in: .box(box), filter: filter)
    }

    /// One page of the units inside `area` (every located unit when nil) that pass `filter`, in
    /// unit-id order: the first `limit` whose id comes after `after`. Costs a scan of the area's
    /// grid members and one copy per unit returned, so an operator paging through a city, or a
    /// client asking for the first hundred, does not pay for the thousands not returned.
    ///
    /// Paging with `after` set to the last id of the previous page returns each unit at most
    /// once, and every unit that stays in the area throughout exactly once.
    public func page(in area: LiveUnitArea? = nil, filter: LiveUnitFilter = .all, after: UnitID? = nil, limit: Int) -> LiveUnitPage {
        let (now, staleBefore) = times()
        let staleAfter = staleAfterMicroseconds
        return units.withLock { table in
            let compiled = table.compile(filter, staleBefore: staleBefore)
            var selection = FirstIDs(limit: max(0, limit))
            var matched = 0
            table.forEachMatch(in: area, compiled) { slot in
                matched += 1
                let id = table.slots[Int(slot)].id
                if let after, id <= after { return }
                selection.offer(id, slot: slot)
            }
            let (picked, hasMore) = selection.ascending()
            return LiveUnitPage(
                units: table.copies(picked, now: now, staleAfter: staleAfter), matched: matched, hasMore: hasMore)
        }
    }

    /// How many located units inside `area` (all when nil) pass `filter`: a scan of the grid's
    /// members, no unit copied.
    public func count(in area: LiveUnitArea? = nil, filter: LiveUnitFilter = .all) -> Int {
        let (_, staleBefore) = times()
        return units.withLock { table in
            let compiled = table.compile(filter, staleBefore: staleBefore)
            var count = 0
            table.forEachMatch(in: area, compiled) { _ in count += 1 }
            return count
        }
    }

    /// Units covered by `polygon` (planar in degrees, boundary included, like PostGIS
    /// `ST_Covers(polygon::geometry, position::geometry)`), in no particular order.
    public func units(in polygon: GeoPolygon, filter: LiveUnitFilter = .all) -> [LiveUnitResult] {
        collect(in: .polygon(polygon), filter: filter)
    }

    private func collect(in area: LiveUnitArea, filter: LiveUnitFilter) -> [LiveUnitResult] {
        collect(in: area.range, filter: filter, where: area.positionTest)
    }

    /// Copies out the units inside `range` that pass `filter` (distance not set yet): the only
    /// part of a box, radius or polygon query that holds the lock.
    private func collect(
        in range: QueryRange, filter: LiveUnitFilter, where test: ((Double, Double) -> Bool)? = nil
    ) -> [LiveUnitResult] {
        let (now, staleBefore) = times()
        let staleAfter = staleAfterMicroseconds
        return units.withLock { table in
            let compiled = table.compile(filter, staleBefore: staleBefore)
            // Slots first (4 bytes each, from the grid's sequential members), then each result
            // written once in place: a result is 176 bytes, thousands for a city, and copying
            // them through temporaries or a regrown array was most of a large answer's cost.
            var picked = SlotSet(capacity: table.slots.count)
            table.forEachMatch(in: range, test, compiled) { picked.insert($0) }
            return table.copies(picked.ascending(), now: now, staleAfter: staleAfter) { LiveUnitResult(unit: $0) }
        }
    }

    private var staleAfterMicroseconds: Int64 { Int64((configuration.staleAfter * 1_000_000).rounded()) }

    /// The current time and the receive time at or before which a unit is stale.
    private func times() -> (now: Timestamp, staleBefore: Timestamp) {
        let now = clock()
        return (now, Timestamp(microseconds: now.microseconds - staleAfterMicroseconds))
    }

    // MARK: - Cameras

    /// Adds or replaces a camera (by id).
    public func upsert(camera: Camera) {
        cameras.withLock { $0.upsert(camera) }
    }

    /// Adds or replaces many cameras under one lock (start-up, GeoJSON import).
    public func upsert(cameras list: some Sequence<Camera>) {
        cameras.withLock { table in
            for camera in list { table.upsert(camera) }
        }
    }

    /// Removes a camera; returns whether it was known.
    @discardableResult
    public func removeCamera(id: String) -> Bool {
        cameras.withLock { $0.remove(id) }
    }

    /// One camera by id.
    public func camera(id: String) -> Camera? {
        cameras.withLock { table in table.slotByID[id].map { table.cameras[Int($0)] } }
    }

    /// Number of cameras held.
    public var cameraCount: Int { cameras.withLock { $0.cameras.count } }

    /// Every camera, in no particular order.
    public func allCameras() -> [Camera] { cameras.withLock { $0.cameras } }

    /// Cameras whose field-of-view wedge contains `point` (``Camera/covers(_:)``), nearest first
    /// (distance from the camera to the point), ties by camera id. `statuses` limits the answer,
    /// e.g. to `[.online, .degraded]` for cameras that can be shown now.
    public func cameras(covering point: GeoPoint, statuses: Set<Camera.Status>? = nil) -> [LiveCameraResult] {
        guard point.isFinite else { return [] }
        // No camera sees farther than the longest range held, so that radius bounds the search.
        let candidates = cameras.withLock { table -> [Camera] in
            guard table.maximumRange > 0 else { return [] }
            return table.collect(in: QueryRange(around: point, radius: table.maximumRange), statuses: statuses)
        }
        var result: [LiveCameraResult] = []
        for camera in candidates where camera.covers(point) {
            result.append(LiveCameraResult(camera: camera, distance: Geodesy.distance(camera.position, point)))
        }
        result.sort(by: Self.nearestFirst)
        return result
    }

    /// Cameras within `radius` metres (geodesic) of `center`, nearest first, ties by id.
    public func cameras(near center: GeoPoint, radius: Double, statuses: Set<Camera.Status>? = nil) -> [LiveCameraResult] {
        guard radius >= 0, center.isFinite else { return [] }
        let candidates = cameras.withLock { $0.collect(in: QueryRange(around: center, radius: radius), statuses: statuses) }
        var result: [LiveCameraResult] = []
        for camera in candidates {
            let distance = Geodesy.distance(center, camera.position)
            if distance <= radius { result.append(LiveCameraResult(camera: camera, distance: distance)) }
        }
        result.sort(by: Self.nearestFirst)
        return result
    }

    /// Cameras inside `box` (same semantics as for units), in no particular order.
    public func cameras(in box: BoundingBox, statuses: Set<Camera.Status>? = nil) -> [LiveCameraResult] {
        cameras.withLock { $0.collect(in: QueryRange(box), statuses: statuses) }.map { LiveCameraResult(camera: $0) }
    }

    static func nearestFirst(_ a: LiveCameraResult, _ b: LiveCameraResult) -> Bool {
        let da = a.distance ?? 0, db = b.distance ?? 0
        return da != db ? da < db : a.camera.id < b.camera.id
    }

    // MARK: - Incidents

    /// Adds or replaces an incident. A closed incident leaves the live picture (history is
    /// PostGIS's), so upserting one with status `closed` removes it.
    /// Makes `active` the whole set of active incidents (as read again from the database).
    public func replaceIncidents(with active: [Incident]) {
        var table: [String: Incident] = [:]
        for incident in active where incident.status != .closed { table[incident.id] = incident }
        incidents.withLock { $0 = table }
    }

    public func upsert(incident: Incident) {
        incidents.withLock { table in
            if incident.status == .closed {
                table[incident.id] = nil
            } else {
                table[incident.id] = incident
            }
        }
    }

    /// Adds or replaces many incidents under one lock (start-up).
    public func upsert(incidents list: some Sequence<Incident>) {
        incidents.withLock { table in
            for incident in list {
                table[incident.id] = incident.status == .closed ? nil : incident
            }
        }
    }

    /// Closes an incident: removes it and returns it with status `closed` and `closedAt` set, or
    /// nil when it was not active.
    @discardableResult
    public func closeIncident(id: String, at time: Timestamp) -> Incident? {
        incidents.withLock { table in
            guard var incident = table.removeValue(forKey: id) else { return nil }
            incident.status = .closed
            incident.closedAt = time
            return incident
        }
    }

    /// One active incident by id.
    public func incident(id: String) -> Incident? { incidents.withLock { $0[id] } }

    /// Active incidents, most urgent first (priority 1 before 5), then oldest first, then by id.
    public func activeIncidents() -> [Incident] {
        let list = incidents.withLock { Array($0.values) }
        return list.sorted { a, b in
            if a.priority != b.priority { return a.priority < b.priority }
            if a.openedAt != b.openedAt { return a.openedAt < b.openedAt }
            return a.id < b.id
        }
    }

    /// Active incidents within `radius` metres (geodesic) of `center`, nearest first, ties by id.
    /// A linear scan: a command room follows hundreds of incidents, not hundreds of thousands.
    public func incidents(near center: GeoPoint, radius: Double) -> [LiveIncidentResult] {
        let list = incidents.withLock { Array($0.values) }
        var result: [LiveIncidentResult] = []
        for incident in list {
            let distance = Geodesy.distance(center, incident.location)
            if distance <= radius { result.append(LiveIncidentResult(incident: incident, distance: distance)) }
        }
        return result.sorted { a, b in
            a.distance != b.distance ? a.distance < b.distance : a.incident.id < b.incident.id
        }
    }
}

extension UnitTable {
    /// What ``LiveUnitCountChange`` compares: the located units and the forgotten totals.
    var census: (count: Int, forgotten: LiveForgottenCounts) { (slots.count, forgotten) }

    /// The change since `before`, or nil when no unit was added, removed or forgotten.
    func change(since before: (count: Int, forgotten: LiveForgottenCounts)) -> LiveUnitCountChange? {
        guard slots.count != before.count || forgotten != before.forgotten else { return nil }
        return LiveUnitCountChange(
            count: slots.count,
            forgotten: LiveForgottenCounts(
                atCapacity: forgotten.atCapacity - before.forgotten.atCapacity, silent: forgotten.silent - before.forgotten.silent))
    }
}

/// Located units the live picture forgot, by reason.
public struct LiveForgottenCounts: Sendable, Hashable {
    /// To make room for a new unit at ``LivePictureConfiguration/maximumUnits`` (or the new
    /// unit itself, when it was the one heard from longest ago).
    public var atCapacity: Int
    /// After ``LivePictureConfiguration/forgetAfter`` of silence.
    public var silent: Int

    public init(atCapacity: Int = 0, silent: Int = 0) {
        self.atCapacity = atCapacity
        self.silent = silent
    }
}

/// A change in the number of located units, as ``LivePicture`` reports it to its observer.
public struct LiveUnitCountChange: Sendable, Hashable {
    /// Located units after the change.
    public var count: Int
    /// Units forgotten by the change.
    public var forgotten: LiveForgottenCounts

    public init(count: Int, forgotten: LiveForgottenCounts = LiveForgottenCounts()) {
        self.count = count
        self.forgotten = forgotten
    }

    /// This change, then `next`: the later count, the forgotten units of both.
    func followed(by next: LiveUnitCountChange) -> LiveUnitCountChange {
        LiveUnitCountChange(
            count: next.count,
            forgotten: LiveForgottenCounts(
                atCapacity: forgotten.atCapacity + next.forgotten.atCapacity, silent: forgotten.silent + next.forgotten.silent))
    }
}

extension GeoPoint {
    /// Queries answer nothing for a NaN or infinite point rather than an arbitrary order: callers
    /// should have validated it (``GeoPoint/validated(latitude:longitude:)``), this is the backstop.
    var isFinite: Bool { latitude.isFinite && longitude.isFinite }
}

/// One answer of a camera query: the camera and, when the query had a point, the geodesic
/// distance between the camera and that point in metres.
public struct LiveCameraResult: Sendable, Hashable {
    public var camera: Camera
    public var distance: Double?

    public init(camera: Camera, distance: Double? = nil) {
        self.camera = camera
        self.distance = distance
    }
}

/// One answer of an incident query: the incident and its geodesic distance in metres.
public struct LiveIncidentResult: Sendable, Hashable {
    public var incident: Incident
    public var distance: Double

    public init(incident: Incident, distance: Double) {
        self.incident = incident
        self.distance = distance
    }
}
