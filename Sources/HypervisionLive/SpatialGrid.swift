#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import HypervisionCore

/// A sparse grid of roughly square cells over the globe, holding integer slots at points.
///
/// Rows are bands of `cellDegrees` of latitude. Each row is cut into as many columns as make its
/// cells about `cellDegrees` of *equatorial* degrees wide (≈ 1.1 km for 0.01°), so a row near a
/// pole has a handful of columns instead of 36,000 slivers: a disc around the pole touches few
/// cells, and cells hold similar numbers of units at every latitude.
///
/// Only occupied cells exist (a dictionary from cell key to a cell number), so memory follows the
/// units, not the planet. Moving a slot is O(1): swap-remove from its cell's member array, append
/// to the new one; a cell that empties is dropped and its number reused. Each row also keeps its
/// occupied columns sorted, so a query walks rows and jumps to the occupied cells in its column
/// range: a 50 km search over the countryside costs its ~45 rows, not 4,000 empty-cell probes.
///
/// Invariants: `locations[s]` names the cell and the index in that cell's `members` where slot
/// `s` is, and that member's `slot` is `s`; a member's coordinates equal the owner's position for
/// that slot; `cellByKey[key(c.row, c.column)] == n` exactly for the non-empty cells `n`, and
/// `rowEntries[c.row]` holds `entry(c.column, n)` exactly for those, sorted.
struct SpatialGrid: Sendable {
    struct Member: Sendable {
        var latitude: Double
        var longitude: Double
        var slot: Int32
    }

    struct Cell: Sendable {
        var row: Int32
        var column: Int32
        var members: [Member]
    }

    struct Location: Sendable {
        var cell: Int32
        var index: Int32
    }

    let cellDegrees: Double
    let rowCount: Int
    let maximumColumns: Int
    let columnCounts: [Int32]

    private var cellByKey: [Int64: Int32] = [:]
    /// Per row, `column << 32 | cellNumber` of its occupied cells, sorted by column.
    private var rowEntries: [[UInt64]]
    private(set) var cells: [Cell] = []
    private var freeCells: [Int32] = []
    private(set) var locations: [Location] = []

    init(cellDegrees: Double) {
        precondition(cellDegrees > 0 && cellDegrees <= 10, "cell size must be in (0, 10] degrees")
        self.cellDegrees = cellDegrees
        let rowCount = Int((180 / cellDegrees).rounded(.up))
        let maximumColumns = Int((360 / cellDegrees).rounded(.up))
        self.rowCount = rowCount
        self.maximumColumns = maximumColumns
        self.columnCounts = (0..<rowCount).map { row in
            let low = -90 + Double(row) * cellDegrees
            let high = min(90, low + cellDegrees)
            // The widest parallel of the row sets its column count, so no cell is wider than the
            // cell size anywhere in the row.
            let widest = low <= 0 && high >= 0 ? 0 : min(abs(low), abs(high))
            let columns = (Double(maximumColumns) * cos(widest * .pi / 180)).rounded(.up)
            return Int32(max(1, min(Double(maximumColumns), columns)))
        }
        self.rowEntries = Array(repeating: [], count: rowCount)
    }

    var occupiedCellCount: Int { cells.count - freeCells.count }

    /// The number of members in the cell with `key` (0 when that cell is empty).
    func members(inCellWithKey key: Int64) -> Int {
        cellByKey[key].map { cells[Int($0)].members.count } ?? 0
    }
    var memberCount: Int { locations.count }

    @inline(__always)
    func row(_ latitude: Double) -> Int {
        let r = ((latitude + 90) / cellDegrees).rounded(.down)
        if !(r >= 0) { return 0 }
        return r >= Double(rowCount - 1) ? rowCount - 1 : Int(r)
    }

    @inline(__always)
    func column(_ longitude: Double, row: Int) -> Int {
        let columns = Int(columnCounts[row])
        let c = ((longitude + 180) / 360 * Double(columns)).rounded(.down)
        if !(c >= 0) { return 0 }
        return c >= Double(columns - 1) ? columns - 1 : Int(c)
    }

    @inline(__always)
    func key(_ row: Int, _ column: Int) -> Int64 { Int64(row) * Int64(maximumColumns) + Int64(column) }

    /// Adds the next slot, which must be `memberCount` (slots are dense, owned by the caller).
    mutating func append(slot: Int32, latitude: Double, longitude: Double) {
        precondition(Int(slot) == locations.count, "slots are appended in order")
        locations.append(Location(cell: -1, index: -1))
        place(slot: slot, latitude: latitude, longitude: longitude)
    }

    /// Moves a slot to a new point; stays in place when the cell does not change.
    mutating func move(slot: Int32, latitude: Double, longitude: Double) {
        let location = locations[Int(slot)]
        let r = row(latitude)
        let c = column(longitude, row: r)
        let cell = cells[Int(location.cell)]
        if Int(cell.row) == r, Int(cell.column) == c {
            cells[Int(location.cell)].members[Int(location.index)].latitude = latitude
            cells[Int(location.cell)].members[Int(location.index)].longitude = longitude
            return
        }
        unplace(slot: slot)
        place(slot: slot, latitude: latitude, longitude: longitude, row: r, column: c)
    }

    /// Removes `slot` the way the owner swap-removes its arrays: the last slot takes its number.
    mutating func swapRemove(slot: Int32) {
        unplace(slot: slot)
        let last = Int32(locations.count - 1)
        if slot != last {
            let moved = locations[Int(last)]
            locations[Int(slot)] = moved
            cells[Int(moved.cell)].members[Int(moved.index)].slot = slot
        }
        locations.removeLast()
    }

    mutating func reserveCapacity(_ count: Int) {
        locations.reserveCapacity(count)
    }

    private mutating func place(slot: Int32, latitude: Double, longitude: Double) {
        let r = row(latitude)
        place(slot: slot, latitude: latitude, longitude: longitude, row: r, column: column(longitude, row: r))
    }

    private mutating func place(slot: Int32, latitude: Double, longitude: Double, row r: Int, column c: Int) {
        let k = key(r, c)
        let cellNumber: Int32
        if let existing = cellByKey[k] {
            cellNumber = existing
        } else if let reused = freeCells.popLast() {
            cellNumber = reused
            cells[Int(reused)].row = Int32(r)
            cells[Int(reused)].column = Int32(c)
            cellByKey[k] = reused
        } else {
            cellNumber = Int32(cells.count)
            cells.append(Cell(row: Int32(r), column: Int32(c), members: []))
            cellByKey[k] = cellNumber
        }
        if cells[Int(cellNumber)].members.isEmpty {
            let entry = UInt64(c) << 32 | UInt64(UInt32(cellNumber))
            rowEntries[r].insert(entry, at: Self.lowerBound(rowEntries[r], column: c))
        }
        let index = Int32(cells[Int(cellNumber)].members.count)
        cells[Int(cellNumber)].members.append(Member(latitude: latitude, longitude: longitude, slot: slot))
        locations[Int(slot)] = Location(cell: cellNumber, index: index)
    }

    private mutating func unplace(slot: Int32) {
        let location = locations[Int(slot)]
        let cellNumber = Int(location.cell)
        let lastIndex = cells[cellNumber].members.count - 1
        if Int(location.index) != lastIndex {
            let moved = cells[cellNumber].members[lastIndex]
            cells[cellNumber].members[Int(location.index)] = moved
            locations[Int(moved.slot)].index = location.index
        }
        cells[cellNumber].members.removeLast()
        if cells[cellNumber].members.isEmpty {
            // Drop the cell and free its storage: units sweep across a city all day, and memory
            // must stay flat rather than remember every cell ever visited.
            let r = Int(cells[cellNumber].row), c = Int(cells[cellNumber].column)
            cellByKey[key(r, c)] = nil
            rowEntries[r].remove(at: Self.lowerBound(rowEntries[r], column: c))
            cells[cellNumber].members = []
            freeCells.append(Int32(cellNumber))
        }
        locations[Int(slot)] = Location(cell: -1, index: -1)
    }

    /// Calls `body` with every member whose coordinates lie inside `range`.
    ///
    /// Walks the rows the range crosses and, in each, the occupied cells of its column range
    /// (binary search in the row's sorted columns). When the range spans so many rows that walking
    /// every occupied cell is cheaper (continental ranges), it does that instead.
    func forEach(in range: QueryRange, _ body: (Member) -> Void) {
        guard !locations.isEmpty else { return }
        let firstRow = row(range.south)
        let lastRow = row(range.north)
        // A row costs a binary search (~20 ns); a cell in a full walk a few ns.
        if (lastRow - firstRow + 1) * 8 > occupiedCellCount + locations.count / 4 {
            for cell in cells where !cell.members.isEmpty {
                for member in cell.members where range.contains(latitude: member.latitude, longitude: member.longitude) {
                    body(member)
                }
            }
            return
        }
        let wraps = range.west1 <= range.east1
        for r in firstRow...lastRow where !rowEntries[r].isEmpty {
            let first0 = column(range.west0, row: r), last0 = column(range.east0, row: r)
            guard wraps else {
                visit(row: r, columns: first0...last0, range: range, body)
                continue
            }
            let first1 = column(range.west1, row: r), last1 = column(range.east1, row: r)
            // In a polar row a single column can hold both sides of the antimeridian: visit each
            // cell once or its members would be reported twice.
            if first1 <= last0 + 1 && first0 <= last1 + 1 {
                visit(row: r, columns: min(first0, first1)...max(last0, last1), range: range, body)
            } else {
                visit(row: r, columns: first0...last0, range: range, body)
                visit(row: r, columns: first1...last1, range: range, body)
            }
        }
    }

    @inline(__always)
    private func visit(row r: Int, columns: ClosedRange<Int>, range: QueryRange, _ body: (Member) -> Void) {
        let entries = rowEntries[r]
        var i = Self.lowerBound(entries, column: columns.lowerBound)
        while i < entries.count {
            let entry = entries[i]
            guard Int(entry >> 32) <= columns.upperBound else { break }
            for member in cells[Int(UInt32(truncatingIfNeeded: entry))].members
            where range.contains(latitude: member.latitude, longitude: member.longitude) {
                body(member)
            }
            i += 1
        }
    }

    /// The index of the first entry whose column is at least `column`.
    @inline(__always)
    private static func lowerBound(_ entries: [UInt64], column: Int) -> Int {
        let target = UInt64(column) << 32
        var low = 0, high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if entries[mid] < target { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
