import Benchmark
import HypervisionCore
import HypervisionLayout

#if canImport(Glibc)
import Glibc
#endif

/// The layout engine on a 6x4 wall of 4K displays (24 displays) with 500 candidate cameras (every
/// camera has an active event), 1,000 units and 20 incidents over central Paris: a full recompute
/// with the previous state (what the daemon does every round), a cold one, one unit marker move
/// (`LayoutEngine.movingUnit`), the scene's JSON encoding, and diff + patch encoding for a typical
/// change (one round of 0.1 s in which 10, or 100, unit markers moved): the typed scene diff the
/// hub uses, and the generic JSON document diff as the reference.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .custom("Thread CPU time (ns)", useScalingFactor: false)], maxDuration: .seconds(3), maxIterations: 1_000_000)
    // Wall-clock percentiles on a shared, loaded machine include time spent preempted; the
    // thread's CPU time for the same iteration does not.
    let threadCPU = BenchmarkMetric.custom("Thread CPU time (ns)", useScalingFactor: false)
    func threadCPUTime() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return ts.tv_sec * 1_000_000_000 + ts.tv_nsec
    }
    func timed(_ benchmark: Benchmark, _ body: () -> Void) {
        let start = threadCPUTime()
        body()
        benchmark.measurement(threadCPU, threadCPUTime() - start)
    }

    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
    let origin = GeoPoint(latitude: 48.8566, longitude: 2.3522)
    func offset(_ north: Double, _ east: Double) -> GeoPoint {
        GeoPoint(latitude: origin.latitude + north / 111_133, longitude: origin.longitude + east / (111_319 * 0.658))
    }
    func cameraID(_ i: Int) -> String { "cam-" + String(repeating: "0", count: max(0, 4 - String(i).count)) + String(i) }

    // The wall: 6 columns x 4 rows of 3840x2160 displays; a map over 2x2 displays, an incident
    // list, a dashboard, and an automatic camera region of 4x4 displays in 2x2 per display.
    let wallJSON = """
        {"id": "bench", "title": "Bench",
         "displays": {"rows": 4, "columns": 6, "default": {"width": 3840, "height": 2160, "widthMm": 1209.6, "heightMm": 680.4, "bezelMm": 1.75}},
         "regions": [
           {"id": "map", "area": {"row": 0, "column": 0, "rows": 2, "columns": 2}, "kind": "map",
            "viewport": {"west": 2.25, "south": 48.81, "east": 2.42, "north": 48.91},
            "fit": {"include": ["incidents", "emergencies"]}},
           {"id": "incidents", "area": {"row": 2, "column": 0, "rows": 2}, "kind": "incidents"},
           {"id": "dash", "area": {"row": 2, "column": 1, "rows": 2}, "kind": "web", "url": "https://grafana.local/d/cic"},
           {"id": "cams", "area": {"row": 0, "column": 2, "rows": 4, "columns": 4}, "kind": "cameras", "preset": "2x2", "perDisplay": true,
            "sources": ["cam-0001", "cam-0002", "cam-0003", "cam-0004", "cam-0005", "cam-0006"]}
         ]}
        """
    let wall: WallLayout
    do { wall = try WallDefinition.compile(json: try JSONValue(parsing: wallJSON)) } catch { fatalError("\(error)") }

    var random = SplitMix(state: 42)
    let t0 = Timestamp(seconds: 1_795_000_000)
    var cameras: [String: CameraState] = [:]
    for i in 0..<500 {
        let camera = Camera(
            id: cameraID(i), name: "Camera \(i)",
            position: offset(Double.random(in: -4000...4000, using: &random), Double.random(in: -4000...4000, using: &random)),
            heading: Double(Int.random(in: 0..<360, using: &random)), fieldOfView: 90, range: 200,
            streams: [Camera.Stream(transport: .rtsp, quality: "main", url: "rtsp://vms.local/\(cameraID(i))/main")])
        cameras[camera.id] = CameraState(camera: camera, statusSince: t0.adding(seconds: -3600))
    }
    var units: [UnitID: LayoutUnit] = [:]
    for i in 0..<1000 {
        let id = UnitID(trusted: "PN-75-U\(i)")
        units[id] = LayoutUnit(
            id: id, callsign: "U\(i)",
            position: offset(Double.random(in: -4000...4000, using: &random), Double.random(in: -4000...4000, using: &random)),
            heading: 90, status: i % 200 == 0 ? .emergency : .available, time: t0)
    }
    let incidents = (0..<20).map { i in
        Incident(
            id: "INC-2026-\(1000 + i)", category: "rixe", priority: 1 + i % 5,
            location: offset(Double.random(in: -3000...3000, using: &random), Double.random(in: -3000...3000, using: &random)),
            openedAt: t0.adding(seconds: -600))
    }
    // Every camera has an active event, so all 500 are candidates.
    let events = (0..<500).map { i in
        CameraEvent(
            cameraID: cameraID(i), kind: .motion, confidence: Double.random(in: 0.1...1, using: &random),
            occurredAt: t0.adding(seconds: -Double(i % 100)), expiresAt: t0.adding(seconds: 3600))
    }
    let baseInputs = LayoutInputs(
        wall: wall, cameras: cameras, units: units, incidents: incidents, events: events,
        pins: (0..<4).map { Pin(camera: cameraID(400 + $0), pinnedAt: t0) },
        tours: [GuardTour(id: "t", cameras: (300..<312).map(cameraID), dwellSeconds: 10, startedAt: t0)], now: t0)
    precondition(PriorityRules.candidates(baseInputs).count == 500, "expected 500 candidates")

    // A steady state: 200 rounds of 0.1 s from a cold start.
    var (baseScene, baseState) = LayoutEngine.compute(baseInputs, previous: nil)
    var warm = baseInputs
    for i in 0..<200 {
        warm.now = t0.adding(seconds: Double(i) * 0.1)
        (baseScene, baseState) = LayoutEngine.compute(warm, previous: baseState)
    }
    let steadyNow = warm.now

    // Rounds of 0.1 s continuing from the steady state across iterations, as the daemon runs them.
    var fullInputs = baseInputs
    var fullState = baseState
    var fullRound = 0.0
    Benchmark("Layout: full recompute, 6x4 4K wall, 500 candidates (previous state)") { benchmark in
        timed(benchmark) { for _ in benchmark.scaledIterations {
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
        timed(benchmark) { for _ in benchmark.scaledIterations {
            blackHole(LayoutEngine.compute(inputs, previous: nil))
        }
        }
    }

    // One marker move: each iteration moves the next non-emergency unit by ~11 m north.
    let movers = units.values.filter { $0.status != .emergency }.sorted { $0.id < $1.id }
    var moveScene = baseScene
    var moveInputs = baseInputs
    moveInputs.now = steadyNow
    var moveIndex = 0
    Benchmark("Layout: one unit marker move (movingUnit)") { benchmark in
        timed(benchmark) { for _ in benchmark.scaledIterations {
            let old = movers[moveIndex % movers.count]
            moveIndex += 1
            var moved = old
            moved.position = GeoPoint(latitude: old.position.latitude + 0.0001, longitude: old.position.longitude)
            moveInputs.units[moved.id] = moved
            guard let updated = LayoutEngine.movingUnit(moved, previously: old, in: moveScene, inputs: moveInputs) else {
                fatalError("movingUnit refused the fast path")
            }
            moveScene = updated
            moveInputs.units[old.id] = old
        }
        }
    }

    Benchmark("Layout: scene JSON encoding (Scene -> JSONValue -> text)") { benchmark in
        timed(benchmark) { for _ in benchmark.scaledIterations {
            blackHole(baseScene.encoded())
        }
        }
    }
    let baseJSON = baseScene.json
    Benchmark("Layout: scene JSON text only (JSONValue -> text, \(baseJSON.encoded().utf8.count) bytes)") { benchmark in
        timed(benchmark) { for _ in benchmark.scaledIterations {
            blackHole(baseJSON.encoded())
        }
        }
    }

    /// Moves `count` random markers to a random point within `spread` degrees of `anchor`
    /// (their current or their first position), timed at `inputs.now`: one round of a wall.
    /// Returns the units moved.
    @discardableResult
    func moveMarkers(
        _ count: Int, in inputs: inout LayoutInputs, random: inout SplitMix, spread: (latitude: Double, longitude: Double),
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
        var rng = SplitMix(state: UInt64(moving))
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
        var roundRandom = SplitMix(state: UInt64(moving) &+ 99)
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
                timed(benchmark) {
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
                timed(benchmark) { blackHole(JSONPatch.diff(from: from, to: to).encodedBytes) }
            }
        }
    }
}
