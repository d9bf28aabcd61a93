import Foundation

/// Douglas–Peucker simplification of a unit's track with a tolerance in metres.
///
/// Kept vertices are original pings (their times stay exact), and the first and last are always
/// kept. Distances are measured in a local equirectangular projection around each segment,
/// which for the kilometre-scale tolerances operators use errs by far less than GPS noise, and
/// keeps the algorithm free of ellipsoid iterations.
public enum TrackSimplifier {
    /// Indexes of the vertices to keep, ascending.
    public static func keep(_ points: [GeoPoint], toleranceMetres: Double) -> [Int] {
        guard points.count > 2, toleranceMetres > 0 else { return Array(points.indices) }
        var keep = [Bool](repeating: false, count: points.count)
        keep[0] = true
        keep[points.count - 1] = true
        // An explicit stack: a long track would overflow recursion.
        var stack: [(Int, Int)] = [(0, points.count - 1)]
        while let (first, last) = stack.popLast() {
            guard last > first + 1 else { continue }
            var farthest = first
            var distance = 0.0
            for index in (first + 1)..<last {
                let d = crossTrackMetres(points[index], points[first], points[last])
                if d > distance {
                    distance = d
                    farthest = index
                }
            }
            if distance > toleranceMetres {
                keep[farthest] = true
                stack.append((first, farthest))
                stack.append((farthest, last))
            }
        }
        return keep.indices.filter { keep[$0] }
    }

    /// Distance from `p` to the segment `a`–`b`, in metres.
    static func crossTrackMetres(_ p: GeoPoint, _ a: GeoPoint, _ b: GeoPoint) -> Double {
        let metresPerDegree = Geodesy.meanRadius * .pi / 180
        let cosLat = cos(a.latitude * .pi / 180)
        func local(_ q: GeoPoint) -> (Double, Double) {
            var dLon = q.longitude - a.longitude
            if dLon > 180 { dLon -= 360 } else if dLon < -180 { dLon += 360 }
            return (dLon * metresPerDegree * cosLat, (q.latitude - a.latitude) * metresPerDegree)
        }
        let (px, py) = local(p), (bx, by) = local(b)
        let length2 = bx * bx + by * by
        guard length2 > 0 else { return (px * px + py * py).squareRoot() }
        let t = max(0, min(1, (px * bx + py * by) / length2))
        let dx = px - t * bx, dy = py - t * by
        return (dx * dx + dy * dy).squareRoot()
    }
}
