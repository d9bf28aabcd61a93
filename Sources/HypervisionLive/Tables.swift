import HypervisionCore

/// The units behind ``LivePicture``'s lock.
///
/// Invariants: `slots` is dense and `slotByID[slots[s].id] == s` for every slot; the grid holds
/// exactly the slots `0..<slots.count`, each at its slot's position; a unit id is in `unlocated`
/// only while it has no slot. Stored slots keep `staleSince` nil; it is computed on the way out.
struct UnitTable: Sendable {
    var slots: [LiveUnit] = []
    /// What filters look at, per slot, 16 bytes each: a filtered query checks hundreds of units
    /// and should not pull each 208-byte ``LiveUnit`` into cache or hash its strings to do so.
    /// Invariant: `hot[s]` mirrors `slots[s]` (last heard, and the codes of its status, kind
    /// and agency).
    var hot: [HotFields] = []
    var slotByID: [UnitID: Int32] = [:]
    var unlocated: [UnitID: Unit] = [:]
    var grid: SpatialGrid
    var statusCodes = Interner()
    var kindCodes = Interner()
    var agencyCodes = Interner()
    /// Which located units changed, so that a consumer (the wall rounds) updates what it derived
    /// from them instead of re-reading every unit.
    var journal = UnitChangeJournal()

    init(grid: SpatialGrid) { self.grid = grid }

    mutating func reserveCapacity(_ count: Int) {
        slots.reserveCapacity(count)
        hot.reserveCapacity(count)
        slotByID.reserveCapacity(count)
        grid.reserveCapacity(count)
    }

    mutating func apply(_ ping: Ping) -> Bool {
        guard let slot = slotByID[ping.unit] else {
            let metadata = unlocated.isEmpty ? nil : unlocated.removeValue(forKey: ping.unit)
            // Start-up registers every unit before loading positions; once all are placed, give
            // the emptied dictionary's storage back instead of keeping ~90 bytes per unit.
            if metadata != nil, unlocated.isEmpty { unlocated = [:] }
            let slot = Int32(slots.count)
            slots.append(
                LiveUnit(
                    id: ping.unit, callsign: metadata?.callsign, kind: metadata?.kind, agency: metadata?.agency,
                    position: ping.position, time: ping.time, altitude: ping.altitude, speed: ping.speed,
                    heading: ping.heading, accuracy: ping.accuracy, status: ping.status, battery: ping.battery,
                    lastHeard: ping.receivedAt))
            hot.append(
                HotFields(
                    lastHeard: ping.receivedAt.microseconds, status: statusCodes.code(ping.status?.rawValue),
                    kind: kindCodes.code(metadata?.kind?.rawValue), agency: agencyCodes.code(metadata?.agency?.rawValue)))
            slotByID[ping.unit] = slot
            grid.append(slot: slot, latitude: ping.position.latitude, longitude: ping.position.longitude)
            journal.record(ping.unit)
            return true
        }
        let index = Int(slot)
        if ping.receivedAt > slots[index].lastHeard {
            slots[index].lastHeard = ping.receivedAt
            hot[index].lastHeard = ping.receivedAt.microseconds
        }
        guard ping.time > slots[index].time else { return false }
        let moved = slots[index].position != ping.position
        if let status = ping.status, status != slots[index].status {
            hot[index].status = statusCodes.code(status.rawValue)
        }
        Self.update(&slots[index], with: ping)
        if moved {
            grid.move(slot: slot, latitude: ping.position.latitude, longitude: ping.position.longitude)
        }
        journal.record(ping.unit)
        return true
    }

    @inline(__always)
    private static func update(_ unit: inout LiveUnit, with ping: Ping) {
        unit.position = ping.position
        unit.time = ping.time
        unit.altitude = ping.altitude
        unit.speed = ping.speed
        unit.heading = ping.heading
        unit.accuracy = ping.accuracy
        if let status = ping.status { unit.status = status }
        if let battery = ping.battery { unit.battery = battery }
    }

    mutating func upsert(_ unit: Unit) {
        guard let slot = slotByID[unit.id] else {
            unlocated[unit.id] = unit
            return
        }
        journal.record(unit.id)
        slots[Int(slot)].callsign = unit.callsign
        slots[Int(slot)].kind = unit.kind
        slots[Int(slot)].agency = unit.agency
        hot[Int(slot)].kind = kindCodes.code(unit.kind?.rawValue)
        hot[Int(slot)].agency = agencyCodes.code(unit.agency?.rawValue)
    }

    mutating func remove(_ id: UnitID) -> Bool {
        if unlocated.removeValue(forKey: id) != nil { return true }
        guard let slot = slotByID.removeValue(forKey: id) else { return false }
        journal.record(id)
        let last = slots.count - 1
        grid.swapRemove(slot: slot)
        if Int(slot) != last {
            slots[Int(slot)] = slots[last]
            hot[Int(slot)] = hot[last]
            slotByID[slots[Int(slot)].id] = slot
        }
        slots.removeLast()
        hot.removeLast()
        return true
    }

    /// The filter in the table's codes, built under the lock once per query.
    func compile(_ filter: LiveUnitFilter, staleBefore: Timestamp) -> CompiledFilter {
        CompiledFilter(
            filter: filter, staleBefore: staleBefore.microseconds,
            statuses: filter.statuses.map { statusCodes.codeSet(Set($0.map(\.rawValue))) },
            kinds: filter.kinds.map { kindCodes.codeSet(Set($0.map(\.rawValue))) },
            agencies: filter.agencies.map { agencyCodes.codeSet(Set($0.map(\.rawValue))) })
    }

    /// Whether the unit in `slot` passes `filter`, from the 16-byte hot record; only a unit whose
    /// value overflowed the interner has its strings compared.
    @inline(__always)
    func accepts(_ slot: Int, _ filter: CompiledFilter) -> Bool {
        if filter.acceptsAll { return true }
        let h = hot[slot]
        if let stale = filter.filter.stale, stale != (h.lastHeard <= filter.staleBefore) { return false }
        if let set = filter.statuses {
            guard let accepted = set.contains(h.status) else {
                return filter.filter.accepts(slots[slot], staleBefore: Timestamp(microseconds: filter.staleBefore))
            }
            if !accepted { return false }
        }
        if let set = filter.kinds {
            guard let accepted = set.contains(h.kind) else {
                return filter.filter.accepts(slots[slot], staleBefore: Timestamp(microseconds: filter.staleBefore))
            }
            if !accepted { return false }
        }
        if let set = filter.agencies {
            guard let accepted = set.contains(h.agency) else {
                return filter.filter.accepts(slots[slot], staleBefore: Timestamp(microseconds: filter.staleBefore))
            }
            if !accepted { return false }
        }
        return true
    }

    @inline(__always)
    func snapshot(_ slot: Int, now: Timestamp, staleAfter: Int64) -> LiveUnit {
        var unit = slots[slot]
        let since = Timestamp(microseconds: unit.lastHeard.microseconds + staleAfter)
        if since <= now { unit.staleSince = since }
        return unit
    }
}

/// The ids of located units in the order they changed (moved, metadata set, removed), with a
/// revision number per change. Bounded: a consumer that falls more than ``capacity`` changes
/// behind is told to read every unit again.
struct UnitChangeJournal: Sendable {
    static let capacity = 65_536
    /// The revision of the latest change (0: none yet).
    private(set) var revision: UInt64 = 0
    /// `entries[i]` is the change with revision `firstRevision + i`.
    private var entries: [UnitID] = []
    private var firstRevision: UInt64 = 1

    mutating func record(_ id: UnitID) {
        if entries.count == Self.capacity {
            // Drop the older half at once, so a record costs O(1) amortized.
            entries.removeFirst(Self.capacity / 2)
            firstRevision += UInt64(Self.capacity / 2)
        }
        entries.append(id)
        revision += 1
    }

    /// The distinct ids changed after `revision`, in no particular order; nil when some of those
    /// changes were already dropped (or `revision` is from the future: another picture's).
    func changed(since revision: UInt64) -> Set<UnitID>? {
        guard revision + 1 >= firstRevision, revision <= self.revision else { return nil }
        let start = Int(revision + 1 - firstRevision)
        var ids = Set<UnitID>(minimumCapacity: entries.count - start)
        for index in start..<entries.count { ids.insert(entries[index]) }
        return ids
    }
}

/// Per-slot filter fields: receive time and interned status, kind and agency codes.
struct HotFields: Sendable {
    var lastHeard: Int64
    var status: UInt16
    var kind: UInt16
    var agency: UInt16
}

/// Small integer codes for the open sets of statuses, kinds and agencies, so filters compare
/// integers. Code 0 means "no value"; at most `limit` values get a code and any further value
/// shares ``overflow`` (checked by string), so a sender inventing a new status per ping cannot grow
/// the table without bound.
struct Interner: Sendable {
    static let none: UInt16 = 0
    static let overflow: UInt16 = .max
    static let limit = 4_096
    private(set) var codes: [String: UInt16] = [:]

    mutating func code(_ value: String?) -> UInt16 {
        guard let value else { return Self.none }
        if let code = codes[value] { return code }
        guard codes.count < Self.limit else { return Self.overflow }
        let code = UInt16(codes.count + 1)
        codes[value] = code
        return code
    }

    func codeSet(_ values: Set<String>) -> CodeSet {
        var accepted = [Bool](repeating: false, count: codes.count + 1)
        for value in values {
            if let code = codes[value] { accepted[Int(code)] = true }
        }
        return CodeSet(accepted: accepted)
    }
}

/// The codes a filter criterion accepts.
struct CodeSet: Sendable {
    var accepted: [Bool]

    /// Whether `code` is accepted; nil for ``Interner/overflow``, whose string must be compared.
    @inline(__always)
    func contains(_ code: UInt16) -> Bool? {
        if code == Interner.overflow { return nil }
        // A code interned after the filter was compiled cannot be in the filter's set.
        return Int(code) < accepted.count ? accepted[Int(code)] : false
    }
}

/// A ``LiveUnitFilter`` translated into the table's codes.
struct CompiledFilter: Sendable {
    let filter: LiveUnitFilter
    let staleBefore: Int64
    let statuses: CodeSet?
    let kinds: CodeSet?
    let agencies: CodeSet?
    var acceptsAll: Bool { filter.acceptsAll }
}

/// The cameras behind ``LivePicture``'s camera lock, with the same dense-slot invariants as
/// ``UnitTable``; `maximumRange` is the largest range held (0 when empty).
struct CameraTable: Sendable {
    var cameras: [Camera] = []
    var slotByID: [String: Int32] = [:]
    var grid: SpatialGrid
    var maximumRange = 0.0

    init(grid: SpatialGrid) { self.grid = grid }

    mutating func upsert(_ camera: Camera) {
        if let slot = slotByID[camera.id] {
            let previous = cameras[Int(slot)]
            cameras[Int(slot)] = camera
            if previous.position != camera.position {
                grid.move(slot: slot, latitude: camera.position.latitude, longitude: camera.position.longitude)
            }
            if previous.range == maximumRange && camera.range < previous.range {
                maximumRange = cameras.reduce(0) { max($0, $1.range) }
            }
        } else {
            let slot = Int32(cameras.count)
            cameras.append(camera)
            slotByID[camera.id] = slot
            grid.append(slot: slot, latitude: camera.position.latitude, longitude: camera.position.longitude)
        }
        maximumRange = max(maximumRange, camera.range)
    }

    mutating func remove(_ id: String) -> Bool {
        guard let slot = slotByID.removeValue(forKey: id) else { return false }
        let removed = cameras[Int(slot)]
        let last = cameras.count - 1
        grid.swapRemove(slot: slot)
        if Int(slot) != last {
            cameras[Int(slot)] = cameras[last]
            slotByID[cameras[Int(slot)].id] = slot
        }
        cameras.removeLast()
        // Recomputed only when the longest-range camera leaves: rare, and O(cameras).
        if removed.range >= maximumRange { maximumRange = cameras.reduce(0) { max($0, $1.range) } }
        return true
    }

    func collect(in range: QueryRange, statuses: Set<Camera.Status>?) -> [Camera] {
        var result: [Camera] = []
        grid.forEach(in: range) { member in
            let camera = cameras[Int(member.slot)]
            if let statuses, !statuses.contains(camera.status) { return }
            result.append(camera)
        }
        return result
    }
}

extension SpatialGrid {
    /// How many members share the cell containing `point`: the local density estimate that
    /// sizes a k-nearest search's first disc.
    func memberCount(at point: GeoPoint) -> Int {
        let r = row(point.latitude)
        return members(inCellWithKey: key(r, column(point.longitude, row: r)))
    }
}
