import Foundation
import HypervisionCore

/// A point in the demo city's flat local frame: metres east (`x`) and north (`y`) of the centre.
///
/// The city is 5 km across, small enough that a tangent plane is exact to millimetres per step,
/// and flat geometry keeps the per-second work of 200 units to a few multiplications.
struct DemoPoint: Sendable, Hashable {
    var x: Double
    var y: Double

    static func + (a: DemoPoint, b: DemoPoint) -> DemoPoint { DemoPoint(x: a.x + b.x, y: a.y + b.y) }
    static func - (a: DemoPoint, b: DemoPoint) -> DemoPoint { DemoPoint(x: a.x - b.x, y: a.y - b.y) }
    static func * (a: DemoPoint, k: Double) -> DemoPoint { DemoPoint(x: a.x * k, y: a.y * k) }

    var length: Double { (x * x + y * y).squareRoot() }

    /// The compass bearing of this vector, degrees true in [0, 360).
    var bearing: Double {
        let degrees = atan2(x, y) * 180 / .pi
        return degrees < 0 ? degrees + 360 : degrees
    }

    /// The unit vector of a compass bearing.
    static func heading(_ degrees: Double) -> DemoPoint {
        let radians = degrees * .pi / 180
        return DemoPoint(x: sin(radians), y: cos(radians))
    }
}

/// Converts between the local frame and WGS 84 with the ellipsoid's radii of curvature at the
/// centre, so that distances measured back with ``Geodesy`` agree with the simulation's metres
/// (to about 0.05% at the city's edge), which the speed checks rely on.
struct DemoProjection: Sendable, Hashable {
    let centre: GeoPoint
    let metresPerDegreeLatitude: Double
    let metresPerDegreeLongitude: Double

    init(centre: GeoPoint) {
        self.centre = centre
        let phi = centre.latitude * .pi / 180
        let e2 = Geodesy.flattening * (2 - Geodesy.flattening)
        let w = (1 - e2 * sin(phi) * sin(phi)).squareRoot()
        let meridional = Geodesy.semiMajorAxis * (1 - e2) / (w * w * w)
        let primeVertical = Geodesy.semiMajorAxis / w
        metresPerDegreeLatitude = meridional * .pi / 180
        metresPerDegreeLongitude = primeVertical * cos(phi) * .pi / 180
    }

    func geo(_ p: DemoPoint) -> GeoPoint {
        GeoPoint(
            latitude: centre.latitude + p.y / metresPerDegreeLatitude,
            longitude: centre.longitude + p.x / metresPerDegreeLongitude)
    }

    func local(_ g: GeoPoint) -> DemoPoint {
        DemoPoint(
            x: (g.longitude - centre.longitude) * metresPerDegreeLongitude,
            y: (g.latitude - centre.latitude) * metresPerDegreeLatitude)
    }
}

/// The class of a street, which sets its speed limit and who may use it.
enum DemoRoadKind: String, Sendable, Hashable {
    case street, boulevard, avenue, ring, link

    /// The speed limit in m/s. The ring's real limit is higher, but cars in the demo stay within
    /// 14 m/s, so the ring is simply the fastest way around.
    var speedLimit: Double {
        switch self {
        case .street: 9
        case .boulevard: 13
        case .avenue: 12
        case .ring: 14
        case .link: 10
        }
    }

    /// Pedestrians keep off the ring and its slip roads.
    var walkable: Bool { self != .ring && self != .link }
}

/// One street segment between two junctions.
struct DemoEdge: Sendable, Hashable {
    var a: Int
    var b: Int
    var length: Double
    var kind: DemoRoadKind
    var name: String
    /// Bearing when driving from `a` to `b`; the other way is this plus 180°.
    var bearing: Double
}

/// A synthetic street network: junctions (nodes) and street segments (edges).
///
/// No map data is available offline, so the network is generated: a slightly irregular, rotated
/// grid of streets with a boulevard every fourth line, three diagonal avenues, a river crossed
/// only on bridges, and an elevated ring road joined to the grid at eight gates. Everything
/// unreachable from the centre is dropped, so every unit can reach every incident.
struct DemoStreetNetwork: Sendable {
    private(set) var nodes: [DemoPoint] = []
    private(set) var edges: [DemoEdge] = []
    /// Edge indices leaving each node.
    private(set) var adjacency: [[Int]] = []

    func other(_ edge: Int, _ node: Int) -> Int { edges[edge].a == node ? edges[edge].b : edges[edge].a }

    /// The point `offset` metres along `edge` from its end `from`.
    func point(_ edge: Int, from: Int, offset: Double) -> DemoPoint {
        let e = edges[edge]
        let start = nodes[from], end = nodes[other(edge, from)]
        let t = e.length > 0 ? min(max(offset / e.length, 0), 1) : 0
        return start + (end - start) * t
    }

    /// The bearing of `edge` driven away from `from`.
    func bearing(_ edge: Int, from: Int) -> Double {
        let e = edges[edge]
        return e.a == from ? e.bearing : (e.bearing + 180).truncatingRemainder(dividingBy: 360)
    }

    // MARK: Routing

    /// Shortest paths towards a target point on the network.
    struct Paths: Sendable {
        /// Cost from each node to the target (seconds at the speed limit, or metres on foot).
        var cost: [Double]
        /// The edge to take from each node towards the target; -1 at the target's own ends and
        /// where the target cannot be reached.
        var toward: [Int]
    }

    /// Dijkstra from a point on `edge` (`offsetFromA` metres from its end `a`) to every node.
    ///
    /// The graph is undirected, so searching outward from the target gives every node its next
    /// hop towards it in one run. Vehicles minimise time at the speed limits (so they prefer
    /// boulevards and the ring); pedestrians minimise distance on walkable streets.
    func paths(to edge: Int, offsetFromA: Double, pedestrian: Bool) -> Paths {
        var cost = [Double](repeating: .infinity, count: nodes.count)
        var toward = [Int](repeating: -1, count: nodes.count)
        var heap = DemoMinHeap()
        let target = edges[edge]
        func weight(_ e: DemoEdge, _ length: Double) -> Double { pedestrian ? length : length / e.kind.speedLimit }
        let startA = weight(target, offsetFromA), startB = weight(target, target.length - offsetFromA)
        cost[target.a] = startA
        heap.push(startA, target.a)
        if startB < cost[target.b] {
            cost[target.b] = startB
            heap.push(startB, target.b)
        }
        while let (c, node) = heap.pop() {
            if c > cost[node] { continue }
            for e in adjacency[node] {
                let street = edges[e]
                if pedestrian && !street.kind.walkable { continue }
                let next = other(e, node)
                let candidate = c + weight(street, street.length)
                if candidate < cost[next] {
                    cost[next] = candidate
                    toward[next] = e
                    heap.push(candidate, next)
                }
            }
        }
        return Paths(cost: cost, toward: toward)
    }

    /// The edges to follow from `node` to the target of `paths` (empty at the target's ends).
    func route(from node: Int, along paths: Paths) -> [Int]? {
        guard paths.cost[node].isFinite else { return nil }
        var out: [Int] = []
        var current = node
        while paths.toward[current] >= 0, out.count <= nodes.count {
            let e = paths.toward[current]
            out.append(e)
            current = other(e, current)
        }
        return out
    }

    /// The distance from `p` to the nearest edge, in metres (brute force; tests and set-up only).
    func distanceToNetwork(_ p: DemoPoint) -> Double {
        var best = Double.infinity
        for e in edges {
            best = min(best, DemoStreetNetwork.distance(p, segment: nodes[e.a], nodes[e.b]))
        }
        return best
    }

    static func distance(_ p: DemoPoint, segment a: DemoPoint, _ b: DemoPoint) -> Double {
        let ab = b - a, ap = p - a
        let l2 = ab.x * ab.x + ab.y * ab.y
        let t = l2 > 0 ? min(max((ap.x * ab.x + ap.y * ab.y) / l2, 0), 1) : 0
        return (p - (a + ab * t)).length
    }

    // MARK: Synthesis

    /// Street names for the grid's lines, Paris-flavoured; boulevards and streets draw from it.
    private static let names = [
        "Voltaire", "Magenta", "Haussmann", "Sébastopol", "Raspail", "Diderot", "Malesherbes", "Beaumarchais",
        "Richard-Lenoir", "Saint-Germain", "Saint-Michel", "Montparnasse", "Pasteur", "Garibaldi", "Picpus", "Bercy",
        "de Rivoli", "La Fayette", "Oberkampf", "Faidherbe", "Daumesnil", "de Clichy", "Rochechouart", "de Belleville",
        "de Ménilmontant", "Parmentier", "de Charonne", "de Turenne", "de Vaugirard", "de Grenelle", "Monge",
        "Mouffetard", "de Tolbiac", "d'Alésia", "de la Convention", "Lecourbe", "Cambronne", "de Passy", "des Ternes",
        "de Villiers", "des Batignolles", "Custine", "Championnet", "Ordener", "de Crimée", "du Jourdain",
        "des Pyrénées", "de Bagnolet", "de Reuilly", "Popincourt", "du Temple", "de Turbigo", "Réaumur",
    ]
    private static let avenues = ["Avenue de la République", "Avenue des Gobelins", "Avenue de Flandre"]
    private static let gates = [
        "Porte de la Chapelle", "Porte de Bagnolet", "Porte de Vincennes", "Porte d'Italie", "Porte d'Orléans",
        "Porte de Versailles", "Porte Maillot", "Porte de Clichy",
    ]

    /// Generates a network within `radius` metres of the centre.
    static func synthesize(using rng: inout SeededRandom, radius: Double = 2_500) -> DemoStreetNetwork {
        let lines = 25  // odd, so the diagonals cross at a junction rather than mid-block
        let middle = lines / 2
        func coordinates() -> [Double] {
            var out = [Double](repeating: 0, count: lines)
            out[middle] = rng.uniform(-20...20)
            for k in 1...middle {
                out[middle + k] = out[middle + k - 1] + rng.uniform(170...240)
                out[middle - k] = out[middle - k + 1] - rng.uniform(170...240)
            }
            return out
        }
        let xs = coordinates(), ys = coordinates()
        // A grid slightly off north, like most real ones.
        let rotation = rng.uniform(-16 ... -8) * .pi / 180
        let cosR = cos(rotation), sinR = sin(rotation)
        func isBoulevardColumn(_ i: Int) -> Bool { i % 4 == 0 }
        func isBoulevardRow(_ j: Int) -> Bool { j % 4 == 2 }

        var nodes: [DemoPoint] = []
        var grid = [[Int]](repeating: [Int](repeating: -1, count: lines), count: lines)
        for i in 0..<lines {
            for j in 0..<lines {
                // Boulevards are straight; side streets wander a little.
                let wobble = isBoulevardColumn(i) || isBoulevardRow(j) ? 3.0 : 12.0
                let x = xs[i] + rng.uniform(-wobble...wobble), y = ys[j] + rng.uniform(-wobble...wobble)
                let p = DemoPoint(x: x * cosR - y * sinR, y: x * sinR + y * cosR)
                if p.length <= radius {
                    grid[i][j] = nodes.count
                    nodes.append(p)
                }
            }
        }
        var names = Self.names
        for k in stride(from: names.count - 1, to: 0, by: -1) { names.swapAt(k, rng.below(k + 1)) }
        func columnName(_ i: Int) -> String { (isBoulevardColumn(i) ? "Boulevard " : "Rue ") + names[i % names.count] }
        func rowName(_ j: Int) -> String { (isBoulevardRow(j) ? "Boulevard " : "Rue ") + names[(lines + j) % names.count] }

        // A river meanders west to east south of the centre; streets cross it only on bridges.
        let riverPhase = rng.uniform(0...(2 * .pi))
        func riverSide(_ p: DemoPoint) -> Bool { p.y > -420 + 170 * sin(p.x / 700 + riverPhase) }

        var candidates: [(Int, Int, DemoRoadKind, String)] = []
        func add(_ a: Int, _ b: Int, _ kind: DemoRoadKind, _ name: String) {
            guard a >= 0, b >= 0 else { return }
            if kind == .street {
                if rng.chance(0.07) { return }  // missing blocks: dead ends and irregular blocks
                if riverSide(nodes[a]) != riverSide(nodes[b]), !rng.chance(0.3) { return }
            }
            candidates.append((a, b, kind, name))
        }
        for i in 0..<lines {
            for j in 0..<lines {
                if i + 1 < lines {
                    add(grid[i][j], grid[i + 1][j], isBoulevardRow(j) ? .boulevard : .street, rowName(j))
                }
                if j + 1 < lines {
                    add(grid[i][j], grid[i][j + 1], isBoulevardColumn(i) ? .boulevard : .street, columnName(i))
                }
            }
        }
        // Diagonal avenues through junctions: i - j = 0, i - j = 8 and i + j = lines - 1. Each
        // crosses a block corner to corner, so they meet the grid and each other only at junctions.
        for i in 0..<(lines - 1) {
            add(grid[i][i], grid[i + 1][i + 1], .avenue, avenues[0])
            if i + 8 + 1 < lines { add(grid[i + 8][i], grid[i + 9][i + 1], .avenue, avenues[2]) }
            let j = lines - 1 - i
            if j - 1 >= 0 { add(grid[i][j], grid[i + 1][j - 1], .avenue, avenues[1]) }
        }
        // The ring: an elevated road (it crosses streets without junctions, as the real
        // périphérique mostly does), joined to the nearest junction at eight gates.
        let ringRadius = radius - 350
        let ringCount = 32
        let ringStart = nodes.count
        let phase = rng.uniform(0...(2 * .pi / Double(ringCount)))
        for k in 0..<ringCount {
            let angle = phase + Double(k) * 2 * .pi / Double(ringCount)
            let r = ringRadius + rng.uniform(-40...40)
            nodes.append(DemoPoint(x: r * sin(angle), y: r * cos(angle)))
        }
        for k in 0..<ringCount {
            candidates.append((ringStart + k, ringStart + (k + 1) % ringCount, .ring, "Boulevard périphérique"))
        }
        for g in 0..<8 {
            let ringNode = ringStart + g * ringCount / 8
            var best = -1, bestDistance = Double.infinity
            for n in 0..<ringStart {
                let d = (nodes[n] - nodes[ringNode]).length
                if d < bestDistance { (best, bestDistance) = (n, d) }
            }
            if best >= 0 { candidates.append((ringNode, best, .link, gates[g])) }
        }

        // Keep what is reachable from the junction nearest the centre, renumbered.
        var adjacency = [[Int]](repeating: [], count: nodes.count)
        for (index, c) in candidates.enumerated() {
            adjacency[c.0].append(index)
            adjacency[c.1].append(index)
        }
        var start = 0
        for n in 0..<ringStart where nodes[n].length < nodes[start].length { start = n }
        var reached = [Bool](repeating: false, count: nodes.count)
        var queue = [start]
        reached[start] = true
        var head = 0
        while head < queue.count {
            let n = queue[head]
            head += 1
            for e in adjacency[n] {
                let m = candidates[e].0 == n ? candidates[e].1 : candidates[e].0
                if !reached[m] {
                    reached[m] = true
                    queue.append(m)
                }
            }
        }
        var network = DemoStreetNetwork()
        var renumber = [Int](repeating: -1, count: nodes.count)
        for n in nodes.indices where reached[n] {
            renumber[n] = network.nodes.count
            network.nodes.append(nodes[n])
        }
        network.adjacency = Array(repeating: [], count: network.nodes.count)
        for c in candidates where reached[c.0] {
            let a = renumber[c.0], b = renumber[c.1]
            let vector = network.nodes[b] - network.nodes[a]
            network.adjacency[a].append(network.edges.count)
            network.adjacency[b].append(network.edges.count)
            network.edges.append(DemoEdge(a: a, b: b, length: vector.length, kind: c.2, name: c.3, bearing: vector.bearing))
        }
        return network
    }
}

/// A binary min-heap of (cost, node) for Dijkstra.
struct DemoMinHeap {
    private var items: [(Double, Int)] = []

    mutating func push(_ cost: Double, _ node: Int) {
        items.append((cost, node))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].0 < items[parent].0 else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (Double, Int)? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < items.count, items[left].0 < items[smallest].0 { smallest = left }
                if right < items.count, items[right].0 < items[smallest].0 { smallest = right }
                if smallest == parent { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return first
    }
}
