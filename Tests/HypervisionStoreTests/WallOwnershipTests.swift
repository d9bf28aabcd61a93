import Synchronization
import Testing

@testable import HypervisionStore

/// When a daemon of a cluster lays a wall out, without a database: the walls it holds, and all
/// of them once it has been cut off from the others for long enough.
@Suite struct WallOwnershipTests {
    @Test func aDaemonCutOffForLongLaysEveryWallOutUntilItListensSteadilyAgain() {
        let now = Mutex(ContinuousClock.now)
        func wait(_ duration: Duration) { now.withLock { $0 += duration } }
        let ownership = WallOwnership(wanted: { ["cic"] }, islandAfter: .seconds(2), clock: { now.withLock { $0 } })
        // Not listening yet: not at once (the listener joins within a second or so)...
        #expect(!ownership.laysOut("cic"))
        wait(.seconds(2))
        // ...but a database that cannot be reached at start-up leaves no wall frozen.
        #expect(ownership.isIslanded && ownership.laysOut("cic") && ownership.laysOut("other"))
        // Listening again: still alone until it has listened steadily as long.
        ownership.rejoined()
        wait(.seconds(1))
        #expect(ownership.laysOut("cic") && !ownership.settle())
        wait(.seconds(1))
        #expect(ownership.settle(), "back for good after an island: the relay asks for the walls whole")
        #expect(!ownership.isIslanded && !ownership.laysOut("cic") && !ownership.settle())

        // A blip shorter than the grace: nothing laid out that is not held, no catching up.
        ownership.lost()
        wait(.seconds(1))
        ownership.rejoined()
        #expect(!ownership.laysOut("cic"))
        wait(.seconds(2))
        #expect(!ownership.settle() && !ownership.isIslanded)

        // A flapping link (connections made and ended again and again) is a cut.
        ownership.lost()
        for _ in 0..<3 {
            wait(.milliseconds(900))
            ownership.rejoined()
            wait(.milliseconds(100))
            ownership.lost()
        }
        #expect(ownership.isIslanded && ownership.laysOut("cic"))
    }
}
