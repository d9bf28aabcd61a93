import Testing
import Synchronization

@testable import HypervisionStore

/// The directory of daemons, from their announcements on the live feed, without a database.
@Suite struct ClusterDirectoryTests {
    @Test func announcementsAreNotedAndOtherPayloadsLeftAlone() {
        let directory = ClusterDirectory()
        let plain = ClusterDirectory.Member(node: "cic-b", http: "http://cic-b:8080", subscriptions: "cic-b:7400", walls: ["cic", "nord"])
        #expect(directory.heard(ClusterDirectory.announcement(plain)))
        #expect(directory.current.map(\.walls) == [["cic", "nord"]])
        // Scene versions and pings, even with five fields, are not announcements.
        #expect(!directory.heard("S1 cic-a cic - 12 11 0 1 [{}]"))
        #expect(!directory.heard("X1 cic-c http://c:1 c:2 -"))
        #expect(!directory.heard("N1 cic-c http://c:1 c:2"))
        #expect(directory.current.map(\.node) == ["cic-b"])
    }

    @Test func aDaemonNotHeardWithinTheExpiryIsLeftOut() {
        let now = Mutex(ContinuousClock.now)
        let directory = ClusterDirectory(clock: { now.withLock { $0 } })
        directory.heard("N1 cic-a http://a:1 a:2 -")
        now.withLock { $0 += ClusterDirectory.expiry + .seconds(1) }
        directory.heard("N1 cic-b http://b:1 b:2 cic")
        #expect(directory.current.map(\.node) == ["cic-b"])
    }
}
