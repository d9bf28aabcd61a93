import HypervisionCore
import Testing

@testable import HypervisionLayout

/// Invariants checked on random walls under random event sequences (seeded, so failures replay).
@Suite("Layout properties")
struct PropertyTests {
    /// Geometric invariants every scene must satisfy.
    static func checkGeometry(_ scene: Scene, wall: WallLayout, sourceLocation: SourceLocation = #_sourceLocation) {
        let tiles = scene.tiles.values.sorted { $0.id < $1.id }
        for (index, tile) in tiles.enumerated() {
            #expect(wall.canvas.contains(tile.rect), "tile \(tile.id) leaves the canvas", sourceLocation: sourceLocation)
            let region = wall.regions.first { $0.region.id == tile.region }
            #expect(region.map { $0.rect.contains(tile.rect) } ?? false, "tile \(tile.id) leaves region \(tile.region)", sourceLocation: sourceLocation)
            for other in tiles[(index + 1)...] {
                #expect(!tile.rect.intersects(other.rect), "tiles \(tile.id) and \(other.id) overlap", sourceLocation: sourceLocation)
            }
            // No bezel across the middle: inside one display, or edges exactly on display edges.
            let touched = wall.displays.filter { $0.rect.intersects(tile.rect) }
            if touched.count > 1 {
                let xs = Set(touched.map(\.rect.x)), maxXs = Set(touched.map(\.rect.maxX))
                let ys = Set(touched.map(\.rect.y)), maxYs = Set(touched.map(\.rect.maxY))
                let aligned = xs.contains(tile.rect.x) && maxXs.contains(tile.rect.maxX) && ys.contains(tile.rect.y)
                    && maxYs.contains(tile.rect.maxY)
                let whole = touched.allSatisfy { tile.rect.contains($0.rect) }
                #expect(aligned && whole, "tile \(tile.id) \(tile.rect) puts a bezel across its middle", sourceLocation: sourceLocation)
            }
            #expect(Set(tile.displays.keys) == Set(touched.map(\.id)), sourceLocation: sourceLocation)
            for (id, visible) in tile.displays {
                let display = wall.displays.first { $0.id == id }
                #expect(display.map { PixelRect(x: 0, y: 0, width: $0.rect.width, height: $0.rect.height).contains(visible) } ?? false, sourceLocation: sourceLocation)
            }
            if case .camera = tile.source { #expect(tile.rect.contains(tile.fit.content), sourceLocation: sourceLocation) }
        }
    }

    /// The ordering rule: in each camera region, no larger slot is empty while a smaller one is
    /// used, and a larger tile holds a lower priority (beyond the margin) only when its holder is
    /// dwell-protected (same slot as before, for less than the minimum dwell) against a non-urgent riser.
    static func checkOrder(
        _ scene: Scene, wall: WallLayout, inputs: LayoutInputs, since: [String: (slot: Int, at: Timestamp)],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let tuning = wall.tuning
        let priority = Dictionary(uniqueKeysWithValues: PriorityRules.candidates(inputs).map { ($0.camera, $0.priority) })
        for placed in wall.regions {
            guard case .cameras = placed.region.content else { continue }
            let tiles = scene.tiles.values.filter { $0.region == placed.region.id }
            let used = Set(tiles.map(\.slot))
            for tile in tiles {
                for (slot, rect) in placed.slots.enumerated() where rect.area > tile.rect.area {
                    #expect(used.contains(slot), "slot \(slot) of \(placed.region.id) is empty while \(tile.id) sits in a smaller one", sourceLocation: sourceLocation)
                }
            }
            for a in tiles {
                for b in tiles where a.rect.area > b.rect.area {
                    guard let pa = priority[a.id], let pb = priority[b.id], pa + tuning.replacementMargin < pb else { continue }
                    let holder = since[a.id]
                    let protected = holder.map {
                        $0.slot == a.slot && $0.at < inputs.now && Double(inputs.now.microseconds - $0.at.microseconds) / 1e6 < tuning.minimumDwellSeconds
                    } ?? false
                    #expect(protected && pb < tuning.urgentPriority, "\(a.id) (\(pa)) holds a larger tile than \(b.id) (\(pb))", sourceLocation: sourceLocation)
                }
            }
        }
    }

    @Test("Random walls under random event sequences keep every invariant", arguments: Array(UInt64(1)...UInt64(24)))
    func randomSequences(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let wall = try #require(RandomWorld.wall(random: &random))
        var inputs = RandomWorld.inputs(wall: wall, cameraCount: 150, random: &random, now: Fixtures.at(0))
        let slotCount = wall.regions.reduce(0) { $0 + ($1.region.content.placement != nil ? $1.slots.count : 0) }
        var state: LayoutState?
        var since: [String: (slot: Int, at: Timestamp)] = [:]
        var totalMoves = 0, changes = 0
        var quietSince: Timestamp?
        for step in 1...120 {
            let now = Fixtures.at(Double(step) * 2)
            inputs.now = now
            let quiet = step % 40 >= 25  // 30 s without any change: the wall must settle
            if !quiet {
                changes += applyRandomChange(&inputs, random: &random, now: now)
                quietSince = nil
            } else if quietSince == nil {
                quietSince = now
            }
            let previousSince = since
            let (scene, next) = LayoutEngine.compute(inputs, previous: state)
            state = next
            Self.checkGeometry(scene, wall: wall)
            Self.checkOrder(scene, wall: wall, inputs: inputs, since: previousSince)
            // Pinned sources are always shown (while there are slots for them).
            for pin in inputs.pins where pin.isActive(at: now) && slotCount >= inputs.pins.count {
                #expect(scene.tiles[pin.camera] != nil, "pinned \(pin.camera) is not shown (seed \(seed), step \(step))")
            }
            var nextSince: [String: (slot: Int, at: Timestamp)] = [:]
            for tile in scene.tiles.values {
                if let old = since[tile.id], old.slot == tile.slot { nextSince[tile.id] = old } else { nextSince[tile.id] = (tile.slot, now) }
            }
            since = nextSince
            totalMoves += scene.moved
            if let quietSince, Double(now.microseconds - quietSince.microseconds) / 1e6 > 2 * wall.tuning.minimumDwellSeconds {
                #expect(scene.moved == 0, "the wall still moves after a quiet period (seed \(seed), step \(step))")
            }
        }
        // Stability: on average far less than one move per input change.
        #expect(totalMoves <= 2 * changes, "\(totalMoves) moves for \(changes) changes (seed \(seed))")
    }

    /// Changes one thing in the world; returns how many things changed.
    private func applyRandomChange(_ inputs: inout LayoutInputs, random: inout SeededRandom, now: Timestamp) -> Int {
        let cameraCount = inputs.cameras.count
        switch Int.random(in: 0..<10, using: &random) {
        case 0...3:
            inputs.events.append(
                CameraEvent(
                    cameraID: RandomWorld.cameraID(Int.random(in: 0..<cameraCount, using: &random)), kind: .motion,
                    confidence: Double.random(in: 0.2...1, using: &random), occurredAt: now,
                    expiresAt: now.adding(seconds: Double(Int.random(in: 10...120, using: &random)))))
            inputs.events.removeAll { !$0.isActive(at: now) }
        case 4:
            let index = Int.random(in: 0..<inputs.incidents.count, using: &random)
            inputs.incidents[index].status = inputs.incidents[index].isActive ? .closed : .open
        case 5:
            if inputs.pins.count < 3 {
                inputs.pins.append(Pin(camera: RandomWorld.cameraID(Int.random(in: 0..<cameraCount, using: &random)), pinnedAt: now, expiresAt: now.adding(seconds: 60)))
            } else {
                inputs.pins.removeFirst()
            }
        case 6:
            let id = RandomWorld.cameraID(Int.random(in: 0..<cameraCount, using: &random))
            let offline = inputs.cameras[id]?.camera.status != .offline
            inputs.cameras[id]?.camera.status = offline ? .offline : .online
            inputs.cameras[id]?.statusSince = now
        case 7:
            let ids = inputs.units.keys.sorted()
            if let id = ids.randomElement(using: &random) {
                let wasEmergency = inputs.units[id]?.status == .emergency
                inputs.units[id]?.status = wasEmergency ? .available : .emergency
                inputs.units[id]?.position = Fixtures.offset(north: Double.random(in: -3000...3000, using: &random), east: Double.random(in: -3000...3000, using: &random))
            }
        default:
            return 0
        }
        return 1
    }

    @Test("A pinned camera is shown even when offline and even when every slot is taken by urgent sources")
    func pinsAlwaysShown() throws {
        var random = SeededRandom(seed: 99)
        let wall = try Fixtures.cameraWall(rows: 1, columns: 1, preset: .grid(rows: 2, columns: 2))
        var inputs = RandomWorld.inputs(wall: wall, cameraCount: 200, random: &random, now: Fixtures.at(0))
        inputs.pins = (0..<4).map { Pin(camera: RandomWorld.cameraID(100 + $0), pinnedAt: Fixtures.at(0)) }
        inputs.cameras[RandomWorld.cameraID(101)]?.camera.status = .offline
        let (scene, _) = LayoutEngine.compute(inputs, previous: nil)
        #expect(Set(scene.tiles.keys) == Set((100..<104).map(RandomWorld.cameraID)))
    }
}
