/// A seeded random number generator: SplitMix64.
///
/// For whatever must replay exactly from its seed: the demo city (tests compare runs step by
/// step, and a demo that misbehaves can be reproduced) and the randomised tests (a failing case
/// is replayed from its seed). It never touches `SystemRandomNumberGenerator`.
/// SplitMix64 is tiny, fast, passes BigCrush and has no bad seeds, which is all a simulation needs;
/// it is not for anything secret.
public struct SeededRandom: RandomNumberGenerator, Sendable, Hashable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform double in `range`. Written out rather than `Double.random(in:using:)` so the
    /// stream of values does not depend on how a standard library version draws them.
    public mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        let unit = Double(next() >> 11) * 0x1.0p-53
        return range.lowerBound + (range.upperBound - range.lowerBound) * unit
    }

    /// A uniform integer in `0..<bound`; `bound` must be positive.
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "bound must be positive")
        // Lemire's multiply-shift; the bias is below 2^-50 for the bounds used here.
        return Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { uniform(0...1) < p }

    /// A random element of a non-empty array.
    public mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    /// An index drawn with probability proportional to its weight.
    public mutating func weighted(_ weights: [Double]) -> Int {
        let total = weights.reduce(0, +)
        var target = uniform(0...total)
        for (index, weight) in weights.enumerated() {
            if target < weight { return index }
            target -= weight
        }
        return weights.count - 1
    }

    /// A derived generator for an independent stream (the network, the fleet, the cameras), so
    /// that adding a draw to one part does not reshuffle the others.
    public mutating func fork(_ salt: UInt64) -> SeededRandom {
        SeededRandom(seed: next() ^ (salt &* 0xD6E8_FEB8_6659_FD93))
    }
}
