import HypervisionCore
import Testing

@testable import HypervisionStream


/// A scene shaped like the real ones (tiles and units keyed by id) that moves like one: each step
/// moves a few units, sometimes changes a status, adds or removes a unit, or swaps a tile's source.
struct MovingScene {
    var generator: SeededRandom
    var units: [String: (lat: Double, lon: Double, status: String)] = [:]
    var tiles: [String: String] = [:]
    var step = 0

    init(seed: UInt64, unitCount: Int = 20) {
        generator = SeededRandom(seed: seed)
        for index in 0..<unitCount {
            units["PN-75-BAC-\(index)"] = (48.85 + Double(index) * 0.001, 2.35, "available")
        }
        for index in 0..<4 { tiles["cam-\(index)"] = "rtsp://cam-\(index)/main" }
    }

    var document: JSONValue {
        var unitObjects: [String: JSONValue] = [:]
        for (id, unit) in units {
            unitObjects[id] = ["lat": .number(unit.lat), "lon": .number(unit.lon), "status": .string(unit.status)]
        }
        var tileObjects: [String: JSONValue] = [:]
        for (id, source) in tiles { tileObjects[id] = ["source": .string(source), "title": .string(id)] }
        return ["wall": "cic-paris", "units": .object(unitObjects), "tiles": .object(tileObjects)]
    }

    mutating func advance() -> JSONValue {
        step += 1
        let ids = units.keys.sorted()
        for _ in 0..<3 {
            guard let id = ids.randomElement(using: &generator) else { break }
            units[id]!.lat += Double.random(in: -0.0005...0.0005, using: &generator)
            units[id]!.lon += Double.random(in: -0.0005...0.0005, using: &generator)
        }
        switch Int.random(in: 0..<10, using: &generator) {
        case 0: if let id = ids.randomElement(using: &generator) { units[id]!.status = ["available", "busy", "emergency"].randomElement(using: &generator)! }
        case 1: units["PN-NEW-\(step)"] = (48.8, 2.3, "available")
        case 2: if let id = ids.randomElement(using: &generator) { units[id] = nil }
        case 3: tiles["cam-\(Int.random(in: 0..<4, using: &generator))"] = "rtsp://cam-\(step)/main"
        default: break
        }
        return document
    }
}

extension SceneReplica {
    /// Applies a wire line as a renderer would: decode, then apply.
    mutating func apply(line: [UInt8]) throws {
        #expect(line.last == UInt8(ascii: "\n"))
        try apply(ServerMessage(line: line.dropLast()))
    }
}
