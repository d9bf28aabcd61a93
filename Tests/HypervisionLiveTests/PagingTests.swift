import HypervisionCore
import HypervisionLive
import Testing

/// Paged and counted unit queries against brute force: pages concatenated are the sorted answer,
/// each page says how many matched in all, and a count is the answer's size.
@Suite struct PagingTests {
    /// Every page of `area` and `filter`, `limit` at a time, following `after` until the answer
    /// says there is no more.
    static func allPages(_ picture: LivePicture, _ area: LiveUnitArea?, _ filter: LiveUnitFilter, limit: Int) -> [LiveUnitPage] {
        var pages: [LiveUnitPage] = []
        var after: UnitID?
        repeat {
            let page = picture.page(in: area, filter: filter, after: after, limit: limit)
            pages.append(page)
            after = page.units.last?.id
            if pages.count > 10_000 { break }
        } while pages.last!.hasMore
        return pages
    }

    @Test(arguments: [(UInt64(11), 0.01), (12, 0.05), (13, 1.0)])
    func pagesAreTheSortedAnswerAndCountsItsSize(seed: UInt64, cell: Double) throws {
        var (picture, rng) = SpatialQueryTests.makePicture(seed: seed, count: 3_000, cellDegrees: cell)
        // Statuses on some units, so a filter leaves some out.
        let all = picture.allUnits()
        for (index, unit) in all.enumerated() where index % 3 == 0 {
            picture.apply(ping(unit.id.rawValue, unit.position.latitude, unit.position.longitude, time: unit.time.adding(seconds: 5), status: .busy))
        }
        let units = picture.allUnits()
        var areas: [LiveUnitArea?] = [nil, .box(try BoundingBox(west: 179.9, south: -1, east: -179.9, north: 1))]
        for _ in 0..<30 {
            let a = randomPoint(&rng)
            let size = [0.1, 1, 30, 400].randomElement(using: &rng)!
            let east = normalized(latitude: 0, longitude: a.longitude + size).longitude
            areas.append(.box(try BoundingBox(west: a.longitude, south: max(-90, a.latitude - size), east: east, north: min(90, a.latitude + size))))
        }
        areas.append(.polygon(try GeoPolygon(rings: [[
            GeoPoint(latitude: -60, longitude: -100), GeoPoint(latitude: -60, longitude: 100), GeoPoint(latitude: 70, longitude: 0),
            GeoPoint(latitude: -60, longitude: -100),
        ]])))
        let filters = [LiveUnitFilter.all, LiveUnitFilter(statuses: [.busy])]
        for area in areas {
            for filter in filters {
                let expected = units.filter { unit in
                    let inside: Bool
                    switch area {
                    case nil: inside = true
                    case .box(let box): inside = box.contains(unit.position)
                    case .polygon(let polygon): inside = polygon.covers(unit.position)
                    }
                    return inside && (filter.statuses == nil || unit.status == .busy)
                }.map(\.id).sorted()
                #expect(picture.count(in: area, filter: filter) == expected.count, "\(String(describing: area))")
                for limit in [1, 7, 100, 10_000] where expected.count / limit < 400 {
                    let pages = Self.allPages(picture, area, filter, limit: limit)
                    #expect(pages.flatMap { $0.units.map(\.id) } == expected, "\(String(describing: area)) limit \(limit)")
                    #expect(pages.allSatisfy { $0.matched == expected.count })
                    #expect(pages.dropLast().allSatisfy { $0.units.count == limit && $0.hasMore })
                    #expect(pages.last!.hasMore == false)
                }
            }
        }
    }

    /// Units that move while a client pages never come twice, and those that stay come once.
    @Test func aUnitMovingBetweenPagesIsNeverReturnedTwice() throws {
        let picture = LivePicture(clock: { t0 })
        let box = try BoundingBox(west: 2.2, south: 48.8, east: 2.5, north: 48.9)
        for index in 0..<100 {
            picture.apply(ping("U\(100 + index)", 48.85, 2.3 + Double(index) * 0.001, time: t0))
        }
        let first = picture.page(in: .box(box), after: nil, limit: 40)
        #expect(first.units.map(\.id.rawValue) == (100..<140).map { "U\($0)" })
        // U110 (already returned) and U150 (not yet) leave; U120 moves inside the box.
        picture.apply(ping("U110", 40, 2.3, time: t0.adding(seconds: 1)))
        picture.apply(ping("U150", 40, 2.3, time: t0.adding(seconds: 1)))
        picture.apply(ping("U120", 48.86, 2.4, time: t0.adding(seconds: 1)))
        var seen = first.units.map(\.id)
        var page = first
        while page.hasMore {
            page = picture.page(in: .box(box), after: page.units.last!.id, limit: 40)
            #expect(page.matched == 98)
            seen += page.units.map(\.id)
        }
        #expect(seen.count == Set(seen).count)
        #expect(Set(seen) == Set((100..<200).filter { $0 != 150 }.map { id("U\($0)") }))
    }
}
