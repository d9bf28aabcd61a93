import HypervisionCore
import HypervisionLayout

/// What the operators asked of each wall: pinned cameras and running guard tours, with their
/// rules. A pure value; the clock is a parameter.
///
/// - A camera is pinned once per wall: pinning it again replaces the earlier pin (its region,
///   expiry and author).
/// - A tour is known by its id: starting a tour with the id of a running one restarts it.
/// - A pin lapses at its `expiresAt`; ``expire(at:)`` drops the lapsed ones (each round does,
///   before it computes). Which step of a tour is shown follows from the clock alone
///   (``GuardTour/step(at:)``), so nothing here steps tours.
///
/// Whether the wall exists is the caller's question (see ``WallRegistry``).
public struct OperatorActions: Sendable, Hashable {
    /// The pins and tours of one wall.
    public struct Wall: Sendable, Hashable {
        public var pins: [Pin] = []
        public var tours: [GuardTour] = []
        public init(pins: [Pin] = [], tours: [GuardTour] = []) {
            self.pins = pins
            self.tours = tours
        }
    }

    public private(set) var walls: [String: Wall] = [:]

    public init() {}

    public subscript(wall: String) -> Wall { walls[wall] ?? Wall() }

    public mutating func pin(_ pin: Pin, on wall: String) {
        walls[wall, default: Wall()].pins.removeAll { $0.camera == pin.camera }
        walls[wall, default: Wall()].pins.append(pin)
    }

    /// Removes the pin of `camera`; false when it was not pinned.
    public mutating func unpin(camera: String, from wall: String) -> Bool {
        guard let before = walls[wall]?.pins.count else { return false }
        walls[wall]!.pins.removeAll { $0.camera == camera }
        return walls[wall]!.pins.count != before
    }

    public mutating func start(_ tour: GuardTour, on wall: String) {
        walls[wall, default: Wall()].tours.removeAll { $0.id == tour.id }
        walls[wall, default: Wall()].tours.append(tour)
    }

    /// Stops the tour `id`; false when there was none.
    public mutating func stopTour(_ id: String, on wall: String) -> Bool {
        guard let before = walls[wall]?.tours.count else { return false }
        walls[wall]!.tours.removeAll { $0.id == id }
        return walls[wall]!.tours.count != before
    }

    /// Drops the pins that have lapsed at `time`; returns how many.
    @discardableResult
    public mutating func expire(at time: Timestamp) -> Int {
        var dropped = 0
        for id in walls.keys {
            let before = walls[id]!.pins.count
            walls[id]!.pins.removeAll { $0.expiresAt.map { $0 <= time } == true }
            dropped += before - walls[id]!.pins.count
        }
        return dropped
    }

    /// Forgets everything asked of a wall that was removed.
    public mutating func forget(wall: String) {
        walls[wall] = nil
    }
}
