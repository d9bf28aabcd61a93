// Memory of the live picture per unit: C heap in use (mallinfo2) and RSS before and after loading
// 100,000 units with their metadata, then while every unit moves once per 10 s (device time) for
// an hour, printed every 10 minutes of device time to show the figure stays flat.
//
//   swift run -c release --package-path Benchmarks live-memory [--units N] [--minutes N] [--period S]
import ArgumentParser
import CMallocInfo
import HypervisionCore
import HypervisionLive
import LoadTools
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

func gaussian(_ rng: inout SeededRandom) -> Double {
    let u = Double.random(in: Double.ulpOfOne..<1, using: &rng), v = Double.random(in: 0..<1, using: &rng)
    return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
}

// 60% of the units around nine cities (σ ≈ 5.5 km), 40% across metropolitan France.
let cities: [(Double, Double, Double)] = [
    (48.8566, 2.3522, 0.25), (43.2965, 5.3698, 0.05), (45.7640, 4.8357, 0.05), (43.6047, 1.4442, 0.03),
    (43.7102, 7.2620, 0.03), (47.2184, -1.5536, 0.02), (48.5734, 7.7521, 0.02), (50.6292, 3.0573, 0.03),
    (44.8378, -0.5792, 0.02),
]
func randomPoint(_ rng: inout SeededRandom) -> GeoPoint {
    var pick = Double.random(in: 0..<1, using: &rng)
    for (lat, lon, share) in cities {
        if pick < share { return GeoPoint(latitude: lat + gaussian(&rng) * 0.05, longitude: lon + gaussian(&rng) * 0.07) }
        pick -= share
    }
    return GeoPoint(latitude: .random(in: 42.3...51.1, using: &rng), longitude: .random(in: -4.8...8.2, using: &rng))
}

func heap() -> Int { Int(hv_heap_in_use()) }
func nanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "live-memory", abstract: "Bytes per unit of the live picture, and that they stay flat under moves.")

    @Option(help: "Live units.") var units = 100_000
    @Option(help: "Simulated minutes of moves.") var minutes = 60
    @Option(help: "Seconds between a unit's pings.") var period = 10

    func validate() throws {
        guard units > 0, minutes > 0, period > 0 else { throw ArgumentParser.ValidationError("counts must be positive") }
    }
}
let options = Options.parseOrExit()
let unitCount = options.units, minutes = options.minutes, period = options.period

var rng = SeededRandom(seed: 7)
let t0: Int64 = 1_795_000_000
// Device time and the picture's clock move together, so no unit goes stale.
let deviceSeconds = Atomic<Int64>(t0)
let statuses: [UnitStatus] = [.available, .busy, .enRoute, .onScene]
let agencies: [Unit.Agency] = [.policeNationale, .gendarmerie, .policeMunicipale]
let kinds: [Unit.Kind] = [.car, .motorbike, .foot]

// Inputs are made before the first measurement: ids like PN-75-BAC-12345 (15 bytes, inline).
var ids: [UnitID] = []
var positions: [GeoPoint] = []
var metadata: [Unit] = []
ids.reserveCapacity(unitCount)
for i in 0..<unitCount {
    let id = UnitID(trusted: "\(["PN", "GN", "PM"][i % 3])-\(10 + i % 90)-BAC-\(i)")
    ids.append(id)
    positions.append(randomPoint(&rng))
    metadata.append(Unit(id: id, callsign: "BAC \(i % 1000)", kind: kinds[i % 3], agency: agencies[i % 3]))
}
@MainActor func pings(round: Int) -> [Ping] {
    let time = Timestamp(seconds: t0 + Int64(round * period))
    return ids.indices.map { i in
        Ping(
            unit: ids[i], time: time, position: positions[i], altitude: 35, speed: 12.5, heading: Double((i + round) % 360),
            accuracy: 8, status: statuses[(i + round / 30) % 4], battery: 81, receivedAt: time)
    }
}
let initial = pings(round: 0)

print("live-memory: \(unitCount) units, every unit moving once per \(period) s of device time for \(minutes) min")
print("LiveUnit (HypervisionLive) stride: \(MemoryLayout<LiveUnit>.stride) B; UnitID stride: \(MemoryLayout<UnitID>.stride) B")

let heap0 = heap(), rss0 = residentBytes()
let picture = LivePicture(clock: { Timestamp(seconds: deviceSeconds.load(ordering: .relaxed)) })
picture.upsert(units: metadata)
let heapMeta = heap()
let start = nanos()
picture.load(positions: initial)
let loadMs = Double(nanos() - start) / 1e6
let heap1 = heap(), rss1 = residentBytes()
precondition(picture.unitCount == unitCount, "expected \(unitCount) units, have \(picture.unitCount)")
print("metadata only:        heap \(fixed(Double(heapMeta - heap0) / Double(unitCount))) B/unit")
print("loaded (\(fixed(loadMs, 1)) ms):     heap \(fixed(Double(heap1 - heap0) / Double(unitCount))) B/unit, RSS \(fixed(Double(rss1 - rss0) / Double(unitCount))) B/unit   (target < 1024 B/unit)")

// An hour of moves: each round every unit moves 0-30 m and reports 10 s later (device time).
let rounds = minutes * 60 / period
let roundsPerReport = max(1, 600 / period)
var applyNanos: UInt64 = 0
var moved = 0
// (minute, RSS per unit) at each report, for the slope.
var rssSamples: [(minute: Double, bytesPerUnit: Double)] = []
for round in 1...rounds {
    for i in positions.indices {
        positions[i] = GeoPoint(
            latitude: positions[i].latitude + .random(in: -0.0002...0.0002, using: &rng),
            longitude: positions[i].longitude + .random(in: -0.0003...0.0003, using: &rng))
    }
    let batch = pings(round: round)
    deviceSeconds.store(t0 + Int64(round * period), ordering: .relaxed)
    let s = nanos()
    for slice in stride(from: 0, to: batch.count, by: 1_000) {
        moved += picture.apply(batch[slice..<min(slice + 1_000, batch.count)]).applied.lazy.filter { $0 }.count
    }
    applyNanos += nanos() - s
    if round % roundsPerReport == 0 || round == rounds {
        let minute = round * period / 60
        // The batch is still alive here: measure the picture, not the input.
        let h = heap() - heap0 - batch.count * MemoryLayout<Ping>.stride
        let rssPerUnit = Double(residentBytes() - rss0) / Double(unitCount)
        rssSamples.append((Double(minute), rssPerUnit))
        print("after \(String(minute).padding(toLength: 3, withPad: " ", startingAt: 0)) min (\(moved) moves):  heap \(fixed(Double(h) / Double(unitCount))) B/unit (picture only, batch excluded), RSS \(fixed(rssPerUnit)) B/unit")
    }
}
// Least-squares slope of RSS per unit over the reports: flat is about 0.
let meanMinute = rssSamples.reduce(0) { $0 + $1.minute } / Double(rssSamples.count)
let meanRSS = rssSamples.reduce(0) { $0 + $1.bytesPerUnit } / Double(rssSamples.count)
let covariance = rssSamples.reduce(0) { $0 + ($1.minute - meanMinute) * ($1.bytesPerUnit - meanRSS) }
let variance = rssSamples.reduce(0) { $0 + ($1.minute - meanMinute) * ($1.minute - meanMinute) }
let slopePerHour = variance > 0 ? covariance / variance * 60 : 0
print("RSS per unit: \(fixed(rssSamples.last?.bytesPerUnit ?? .nan)) B at the end; slope \(fixed(slopePerHour, 1)) B/unit per hour over \(rssSamples.count) reports (flat: about 0)")
print("apply rate over the hour: \(fixed(Double(moved) / (Double(applyNanos) / 1e9))) pings/s")
