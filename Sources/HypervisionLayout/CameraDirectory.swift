import HypervisionCore

/// The cameras of a computation's inputs in an array, with where each id is and a coverage
/// filter for each, so that ranking reads cameras in place instead of copying each one out of
/// a dictionary (with its strings and arrays) every round.
///
/// Kept in ``LayoutState`` and reused while ``LayoutInputs/camerasRevision`` stays the same;
/// rebuilt when it changes or is nil. A wall's cameras change far less often than its rounds
/// run (a status change, an import), so most rounds reuse it.
struct CameraDirectory: Sendable, Hashable {
    let revision: UInt64?
    let states: [CameraState]
    let offsetByID: [String: Int]
    let reach: [CoverageFilter]

    init(_ cameras: [String: CameraState], revision: UInt64?) {
        self.revision = revision
        var states: [CameraState] = []
        var offsetByID: [String: Int] = [:]
        var reach: [CoverageFilter] = []
        states.reserveCapacity(cameras.count)
        offsetByID.reserveCapacity(cameras.count)
        reach.reserveCapacity(cameras.count)
        for (id, state) in cameras {
            offsetByID[id] = states.count
            reach.append(CoverageFilter(position: state.camera.position, range: state.camera.range))
            states.append(state)
        }
        self.states = states
        self.offsetByID = offsetByID
        self.reach = reach
    }

    /// The directory for `inputs`: `previous` when its revision is the inputs' (and known).
    static func of(_ inputs: LayoutInputs, previous: CameraDirectory?) -> CameraDirectory {
        if let previous, let revision = inputs.camerasRevision, previous.revision == revision { return previous }
        return CameraDirectory(inputs.cameras, revision: inputs.camerasRevision)
    }

    static func == (a: CameraDirectory, b: CameraDirectory) -> Bool {
        a.revision == b.revision && a.offsetByID.count == b.offsetByID.count
            && a.offsetByID.allSatisfy { id, offset in b.offsetByID[id].map { b.states[$0] == a.states[offset] } ?? false }
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(revision)
        hasher.combine(states.count)
    }
}
