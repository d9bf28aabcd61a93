import HypervisionCore
import Synchronization

/// Where ``UnitTable/keep(_:)`` may write: a store the optimiser cannot prove unobserved.
private let readAheadSink = Atomic<UInt8>(0)

/// The units behind ``LivePicture``'s lock.
///
/// Invariants: `slots` is dense and `slotByID[slots[s].id] == s` for every slot; the grid holds
/// exactly the slots `0..<slots.count`, each at its slot's position; a unit id is in `unlocated`
/// only while it has no slot. Stored slots keep `staleSince` nil; it is computed on the way out.
/// `slots.count <= maximumUnits` and `unlocated.count <= maximumUnits`: memory is bounded
/// whatever ids senders make up.
struct UnitTable: Sendable {
    var slots: [LiveUnit] = []
    /// What filters look at, per slot, 16 bytes each: a filtered query checks hundreds of units
    /// and should not pull each 160-byte ``LiveUnit`` into cache or hash its strings to do so.
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
    /// Most located units held (see ``LivePictureConfiguration/maximumUnits``).
    let maximumUnits: Int
    /// The units to forget first when the table is full, newest first (the next to go is last).
    ///
    /// Invariant: every located unit that is not here, or whose `lastHeard` changed since it was
    /// picked (it was heard again), was last heard no earlier than the first entry's
    /// `lastHeard`. So the last entry still valid is the unit heard from longest ago of all,
    /// and eviction is exact "longest-unheard first" while costing a full scan only once per
    /// ``candidateBatch`` evictions. Entries of units heard again or removed are skipped when
    /// they come up.
    var evictionCandidates: [EvictionCandidate] = []
    /// Units forgotten since the table was made, by reason.
    var forgotten = LiveForgottenCounts()

    init(grid: SpatialGrid, maximumUnits: Int = .max) {
        self.grid = grid
        self.maximumUnits = maximumUnits
    }

    /// How many eviction candidates one scan picks: 1/16 of the cap, at most 4,096 (48 kB).
    var candidateBatch: Int { max(1, min(4_096, maximumUnits / 16)) }

    mutating func reserveCapacity(_ count: Int) {
        slots.reserveCapacity(count)
        hot.reserveCapacity(count)
        slotByID.reserveCapacity(count)
        grid.reserveCapacity(count)
    }

    mutating func apply(_ ping: Ping) -> Bool {
        guard let slot = slotByID[ping.unit] else {
            if slots.count >= maximumUnits {
                guard makeRoom(forUnitHeardAt: ping.receivedAt.microseconds) else {
                    // The newcomer is the longest-unheard unit: it is the one not kept.
                    forgotten.atCapacity += 1
                    return false
                }
            }
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
            noteArrival(ping.unit, heardAt: ping.receivedAt.microseconds)
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
            rememberUnlocated(unit)
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

    // MARK: Bounds

    /// Keeps the metadata of a unit without a position, within the same bound as located units:
    /// beyond it an arbitrary entry goes (metadata comes back with the registry at the next start).
    mutating func rememberUnlocated(_ unit: Unit) {
        if unlocated.count >= maximumUnits, unlocated[unit.id] == nil {
            unlocated.remove(at: unlocated.startIndex)
        }
        unlocated[unit.id] = unit
    }

    /// Forgets located units heard from longest ago until there is room for one more, unless
    /// the newcomer, heard at `heard` (µs), was heard earlier still: then nothing is forgotten
    /// and the answer is false.
    mutating func makeRoom(forUnitHeardAt heard: Int64) -> Bool {
        while slots.count >= maximumUnits {
            guard let (oldest, slot) = nextEvictionCandidate() else { return false }
            if heard < oldest.lastHeard { return false }
            evictionCandidates.removeLast()
            forget(slot: slot)
            forgotten.atCapacity += 1
        }
        return true
    }

    /// The valid candidate heard from longest ago, and its slot; entries of units removed or
    /// heard again since they were picked are dropped on the way, and the list is refilled
    /// when empty. Nil only when there is no located unit.
    private mutating func nextEvictionCandidate() -> (EvictionCandidate, Int32)? {
        while true {
            if evictionCandidates.isEmpty {
                refillEvictionCandidates()
                if evictionCandidates.isEmpty { return nil }
            }
            let candidate = evictionCandidates[evictionCandidates.count - 1]
            if let slot = slotByID[candidate.id], hot[Int(slot)].lastHeard == candidate.lastHeard { return (candidate, slot) }
            evictionCandidates.removeLast()
        }
    }

    /// Picks the ``candidateBatch`` units heard from longest ago: one selection over the
    /// receive times (linear on average), then a sort of the few picked.
    private mutating func refillEvictionCandidates() {
        let count = min(candidateBatch, slots.count)
        guard count > 0 else { return }
        var times = hot.map(\.lastHeard)
        let threshold = Self.select(&times, rank: count - 1)
        var picked: [EvictionCandidate] = []
        picked.reserveCapacity(count)
        for slot in hot.indices where hot[slot].lastHeard < threshold {
            picked.append(EvictionCandidate(lastHeard: hot[slot].lastHeard, id: slots[slot].id))
        }
        for slot in hot.indices where picked.count < count && hot[slot].lastHeard == threshold {
            picked.append(EvictionCandidate(lastHeard: threshold, id: slots[slot].id))
        }
        picked.sort { $0.lastHeard > $1.lastHeard }
        evictionCandidates = picked
    }

    /// Keeps the candidates' invariant when a unit arrives heard earlier than the newest
    /// candidate (start-up loads stored positions in no particular order): it joins them.
    private mutating func noteArrival(_ id: UnitID, heardAt heard: Int64) {
        guard let newest = evictionCandidates.first, heard < newest.lastHeard else { return }
        var low = 0, high = evictionCandidates.count
        while low < high {
            let mid = (low + high) / 2
            if evictionCandidates[mid].lastHeard > heard { low = mid + 1 } else { high = mid }
        }
        evictionCandidates.insert(EvictionCandidate(lastHeard: heard, id: id), at: low)
        // Bounded too: dropping the newest entries keeps the invariant (every unit not listed
        // was heard no earlier than the newest entry left).
        if evictionCandidates.count > 2 * candidateBatch {
            evictionCandidates.removeFirst(evictionCandidates.count - 2 * candidateBatch)
        }
    }

    /// The located units last heard at or before `cutoff` (µs since the epoch).
    func units(heardAtOrBefore cutoff: Int64) -> [UnitID] {
        var ids: [UnitID] = []
        for slot in hot.indices where hot[slot].lastHeard <= cutoff { ids.append(slots[slot].id) }
        return ids
    }

    /// Forgets `id` if it is still located and still unheard since `cutoff`.
    mutating func forgetIfSilent(_ id: UnitID, cutoff: Int64) -> Bool {
        guard let slot = slotByID[id], hot[Int(slot)].lastHeard <= cutoff else { return false }
        forget(slot: slot)
        forgotten.silent += 1
        return true
    }

    /// Removes a located unit, as a removal consumers see (the journal records it, so walls drop
    /// its marker), keeping its registry metadata so it comes back with its callsign, kind and
    /// agency when it is heard again.
    private mutating func forget(slot: Int32) {
        let unit = slots[Int(slot)]
        _ = remove(unit.id)
        if unit.callsign != nil || unit.kind != nil || unit.agency != nil {
            rememberUnlocated(Unit(id: unit.id, callsign: unit.callsign, kind: unit.kind, agency: unit.agency))
        }
    }

    /// Reorders `values` so that `values[rank]` is the value of that rank in sorted order, and
    /// returns it (Hoare's selection with a median-of-three pivot).
    static func select(_ values: inout [Int64], rank: Int) -> Int64 {
        var low = 0, high = values.count - 1
        while low < high {
            let mid = low + (high - low) / 2
            let pivot = max(min(values[low], values[mid]), min(max(values[low], values[mid]), values[high]))
            var i = low, j = high
            while i <= j {
                while values[i] < pivot { i += 1 }
                while values[j] > pivot { j -= 1 }
                if i <= j {
                    values.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if rank <= j {
                high = j
            } else if rank >= i {
                low = i
            } else {
                return values[rank]
            }
        }
        return values[rank]
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

    /// Calls `body` with the slot of each located unit inside `area` (all when nil) that passes
    /// `filter`.
    func forEachMatch(in area: LiveUnitArea?, _ filter: CompiledFilter, _ body: (Int32) -> Void) {
        guard let area else {
            for slot in slots.indices where accepts(slot, filter) { body(Int32(slot)) }
            return
        }
        forEachMatch(in: area.range, area.positionTest, filter, body)
    }

    /// Calls `body` with the slot of each unit in `range` whose position passes `test` (when
    /// set) and that passes `filter`; the test runs on the grid's coordinates, so a unit it
    /// excludes is never read.
    func forEachMatch(
        in range: QueryRange, _ test: ((Double, Double) -> Bool)?, _ filter: CompiledFilter, _ body: (Int32) -> Void
    ) {
        grid.forEach(in: range) { member in
            if let test, !test(member.latitude, member.longitude) { return }
            if accepts(Int(member.slot), filter) { body(member.slot) }
        }
    }

    /// The units in `picked`, with their staleness as of `now`, each made into an answer element.
    ///
    /// A block of slots is read ahead before it is copied. Copying unit by unit, few cache
    /// misses overlapped (each copy is a memcpy and calls to retain five strings between two
    /// reads of the table): 60–70 ns a unit, most of a city's answer. Loads with nothing
    /// between them overlap, and the block's copy then finds it in cache: the Paris box
    /// (14,000 of 100,000 units) went from p50 0.96 to 0.82 ms (LiveBenchmarks).
    func copies<Element>(_ picked: [Int32], now: Timestamp, staleAfter: Int64, _ make: (consuming LiveUnit) -> Element) -> [Element] {
        [Element](unsafeUninitializedCapacity: picked.count) { buffer, initialized in
            var touched: UInt8 = 0
            var start = 0
            while start < picked.count {
                let end = min(start + Self.readAheadBlock, picked.count)
                slots.withUnsafeBytes { bytes in
                    for index in start..<end {
                        let offset = Int(picked[index]) * MemoryLayout<LiveUnit>.stride
                        // One byte of each cache line the unit spans.
                        var line = 0
                        while line < MemoryLayout<LiveUnit>.size {
                            touched ^= bytes[offset + line]
                            line += 64
                        }
                        touched ^= bytes[offset + MemoryLayout<LiveUnit>.size - 1]
                    }
                }
                for index in start..<end {
                    (buffer.baseAddress! + index).initialize(to: make(snapshot(Int(picked[index]), now: now, staleAfter: staleAfter)))
                }
                start = end
            }
            initialized = picked.count
            Self.keep(touched)
        }
    }

    /// Units read ahead at a time: 256 × 160 bytes stays in a core's L2 cache.
    static let readAheadBlock = 256

    /// Makes the read-ahead loads observable, so that the optimiser keeps them.
    @inline(never)
    static func keep(_ value: UInt8) {
        if value == 0x5A { readAheadSink.store(value, ordering: .relaxed) }
    }

    func copies(_ picked: [Int32], now: Timestamp, staleAfter: Int64) -> [LiveUnit] {
        copies(picked, now: now, staleAfter: staleAfter) { $0 }
    }

    @inline(__always)
    func snapshot(_ slot: Int, now: Timestamp, staleAfter: Int64) -> LiveUnit {
        var unit = slots[slot]
        let since = Timestamp(microseconds: unit.lastHeard.microseconds + staleAfter)
        if since <= now { unit.staleSince = since }
        return unit
    }
}

/// Slots as a bitmap, read back in ascending order: copying the units of a query slot by slot
/// in memory order lets the processor's prefetcher stream the table instead of taking a cache
/// miss per unit in the grid's order (the table is 160 bytes a unit, far larger than the cache).
struct SlotSet {
    private var words: [UInt64]
    private(set) var count = 0

    init(capacity: Int) { words = Array(repeating: 0, count: (capacity + 63) / 64) }

    mutating func insert(_ slot: Int32) {
        words[Int(slot) >> 6] |= 1 << UInt64(slot & 63)
        count += 1
    }

    func ascending() -> [Int32] {
        var slots: [Int32] = []
        slots.reserveCapacity(count)
        for (index, word) in words.enumerated() where word != 0 {
            var rest = word
            while rest != 0 {
                slots.append(Int32(index << 6 | rest.trailingZeroBitCount))
                rest &= rest - 1
            }
        }
        return slots
    }
}

/// The `limit` smallest unit ids offered, with their slots: a max-heap on the id, so that a
/// query paging through thousands of units holds one page, and each unit offered costs one
/// comparison with the largest id kept once the page is full.
struct FirstIDs {
    let limit: Int
    private var heap: [(id: UnitID, slot: Int32)] = []
    /// Whether an offered id was left out (the page is not all there is).
    private var leftOut = false

    init(limit: Int) { self.limit = limit }

    mutating func offer(_ id: UnitID, slot: Int32) {
        if heap.count < limit {
            heap.append((id, slot))
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard heap[parent].id < heap[child].id else { break }
                heap.swapAt(parent, child)
                child = parent
            }
            return
        }
        leftOut = true
        guard let largest = heap.first, id < largest.id else { return }
        heap[0] = (id, slot)
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var largestChild = parent
            if left < heap.count, heap[largestChild].id < heap[left].id { largestChild = left }
            if right < heap.count, heap[largestChild].id < heap[right].id { largestChild = right }
            guard largestChild != parent else { break }
            heap.swapAt(parent, largestChild)
            parent = largestChild
        }
    }

    /// The slots kept, by ascending id, and whether any id offered was left out.
    func ascending() -> (slots: [Int32], hasMore: Bool) {
        (heap.sorted { $0.id < $1.id }.map(\.slot), leftOut)
    }
}

/// A unit that may be forgotten next, with the receive time it had when picked.
struct EvictionCandidate: Sendable {
    var lastHeard: Int64
    var id: UnitID
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
