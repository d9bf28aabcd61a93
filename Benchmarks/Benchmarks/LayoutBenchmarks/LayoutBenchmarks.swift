import Benchmark
import BenchmarkSupport
import HypervisionCore
import HypervisionLayout
import LayoutFixtures

#if canImport(Glibc)
import Glibc
#endif

/// The layout engine on a 6x4 wall of 4K displays (24 displays) with 500 candidate cameras (every
/// camera has an active event), 1,000 units and 20 incidents over central Paris: a full recompute
/// with the previous state (what the daemon does every round), a cold one, one unit marker move
/// (`LayoutEngine.moveUnit`), the scene's JSON encoding, and diff + patch encoding for a typical
/// change (one round of 0.1 s in which 10, or 100, unit markers moved): the typed scene diff the
/// hub uses, and the generic JSON document diff as the reference.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = ThreadCPU.configuration

    let world = BenchWall()
    let baseInputs = world.inputs
    let (baseScene, baseState) = (world.steadyScene, world.steadyState)
    let steadyNow = world.steadyNow

    // Rounds of 0.1 s continuing from the steady state across iterations, as the daemon runs them.
    var fullInputs = baseInputs
    var fullState = baseState
    var fullRound = 0.0
    Benchmark("Layout: full recompute, 6x4 4K wall, 500 candidates (previous state)") { benchmark in
        ThreadCPU.timed(benchmark) { for _ in benchmark.scaledIterations {
            fullRound += 1
            fullInputs.now = steadyNow.adding(seconds: fullRound * 0.1)
            let (scene, next) = LayoutEngine.compute(fullInputs, previous: fullState)
            fullState = next
            blackHole(scene)
        }
        }
    }

    Benchmark("Layout: full recompute, 6x4 4K wall, 500 candidates (cold, no previous state)") { benchmark in
        var inputs = baseInputs
        inputs.now = steadyNow
        ThreadCPU.timed(benchmark) { for _ in benchmark.scaledIterations {
            blackHole(LayoutEngine.compute(inputs, previous: nil))
        }
        }
    }

    // One marker move: each iteration moves the next non-emergency unit by ~11 m north.
    let movers = world.movers
    var moveScene = baseScene
    var moveInputs = baseInputs
    moveInputs.now = steadyNow
    var moveIndex = 0
    Benchmark("Layout: one unit marker move (moveUnit)") { benchmark in
        ThreadCPU.timed(benchmark) { for _ in benchmark.scaledIterations {
            let old = movers[moveIndex % movers.count]
            moveIndex += 1
            var moved = old
            moved.position = GeoPoint(latitude: old.position.latitude + 0.0001, longitude: old.position.longitude)
            moveInputs.units[moved.id] = moved
            guard LayoutEngine.moveUnit(moved, previously: old, in: &moveScene, inputs: moveInputs) else {
                fatalError("moveUnit refused the fast path")
            }
            moveInputs.units[old.id] = old
        }
        }
    }

    Benchmark("Layout: scene JSON encoding (Scene -> JSONValue -> text)") { benchmark in
        ThreadCPU.timed(benchmark) { for _ in benchmark.scaledIterations {
            blackHole(baseScene.encoded())
        }
        }
    }
    let baseJSON = baseScene.json
    Benchmark("Layout: scene JSON text only (JSONValue -> text, \(baseJSON.encoded().utf8.count) bytes)") { benchmark in
        ThreadCPU.timed(benchmark) { for _ in benchmark.scaledIterations {
            blackHole(baseJSON.encoded())
        }
        }
    }

    /// Moves `count` random markers to a random point within `spread` degrees of `anchor`
    /// (their current or their first position), timed at `inputs.now`: one round of a wall.
    /// Returns the units moved.
    @discardableResult
    func moveMarkers(
        _ count: Int, in inputs: inout LayoutInputs, random: inout SeededRandom, spread: (latitude: Double, longitude: Double),
        around anchor: (_ first: LayoutUnit, _ current: LayoutUnit) -> GeoPoint
    ) -> Set<UnitID> {
        var movedIDs = Set<UnitID>()
        for _ in 0..<count {
            let unit = movers[Int.random(in: 0..<movers.count, using: &random)]
            var moved = inputs.units[unit.id]!
            let center = anchor(unit, moved)
            moved.position = GeoPoint(
                latitude: center.latitude + .random(in: -spread.latitude...spread.latitude, using: &random),
                longitude: center.longitude + .random(in: -spread.longitude...spread.longitude, using: &random))
            moved.time = inputs.now
            inputs.units[unit.id] = moved
            movedIDs.insert(unit.id)
        }
        return movedIDs
    }

    // Typical changes: one round of 0.1 s in which `moving` unit markers moved by 5-15 m, as
    // pairs of scenes (before, after) made outside the measurement.
    func changes(moving: Int) -> [(Scene, Scene)] {
        var inputs = baseInputs
        var state = baseState
        var before = baseScene
        var rng = SeededRandom(seed: UInt64(moving))
        var pairs: [(Scene, Scene)] = []
        for round in 1...64 {
            inputs.now = steadyNow.adding(seconds: Double(round) * 0.1)
            moveMarkers(moving, in: &inputs, random: &rng, spread: (0.0001, 0.00015)) { _, current in current.position }
            let (after, next) = LayoutEngine.compute(inputs, previous: state)
            state = next
            pairs.append((before, after))
            before = after
        }
        return pairs
    }
    var pairIndex = 0
    for moving in [10, 100] {
        let pairs = changes(moving: moving)
        // What the hub does every round: the typed diff of the wall's scene (its markers: those the
        // engine says changed), the stamp, and the encoding of the operations for the wire and the history.
        let sample = JSONPatch(operations: pairs[1].1.changes(since: pairs[1].0) + pairs[1].1.stampOperations(seq: 2)).encodedBytes
        if getenv("HV_DUMP_PATCH") != nil { print(String(decoding: sample, as: UTF8.self)) }
        // As the daemon runs it: each iteration computes the next round's scene (not timed), then
        // diffs it against the previous round's, both fresh in the caches.
        var roundInputs = baseInputs
        var roundState = baseState
        var roundScene = baseScene
        var roundNumber = 0.0
        var roundRandom = SeededRandom(seed: UInt64(moving) &+ 99)
        Benchmark("Layout: typed scene diff + patch encoding, \(moving) markers moved in a round (~\(sample.count) bytes)") { benchmark in
            for _ in benchmark.scaledIterations {
                roundNumber += 1
                roundInputs.now = steadyNow.adding(seconds: roundNumber * 0.1)
                // Around each marker's first position, so that markers stay on the map however long it runs.
                roundInputs.changedUnits = moveMarkers(moving, in: &roundInputs, random: &roundRandom, spread: (0.0005, 0.0008)) { first, _ in
                    first.position
                }
                let (next, nextState) = LayoutEngine.compute(roundInputs, previous: roundState)
                guard let changedMarkers = nextState.unitChanges else { fatalError("the engine rebuilt the markers") }
                let previous = roundScene
                ThreadCPU.timed(benchmark) {
                    let markers = SceneUnit.changes(from: previous.units, to: next.units, keys: changedMarkers)
                    blackHole(JSONPatch(operations: next.changes(since: previous, unitOperations: markers) + next.stampOperations(seq: 2)).encodedBytes)
                }
                (roundScene, roundState) = (next, nextState)
            }
        }
        // The same change through the generic JSON diff of the two whole documents (what the hub
        // did before the typed diff), as the reference.
        let documents = pairs.map { ($0.0.json, $0.1.json) }
        Benchmark("Layout: JSONPatch.diff of the scene documents + encoding, \(moving) markers moved (reference)") { benchmark in
            for _ in benchmark.scaledIterations {
                let (from, to) = documents[pairIndex & 63]
                pairIndex += 1
                ThreadCPU.timed(benchmark) { blackHole(JSONPatch.diff(from: from, to: to).encodedBytes) }
            }
        }
    }
}
