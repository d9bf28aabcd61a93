import HypervisionCore
import Testing

@testable import HypervisionStream

@Suite struct SceneHistoryTests {
    let key = StreamKey(wall: "cic-paris")

    /// A history after `count` publishes of a moving scene, with the document at every sequence number.
    func history(count: Int, limits: SceneHistory.Limits = .init(), start: UInt64 = 1000) -> (SceneHistory, [UInt64: JSONValue]) {
        var scene = MovingScene(seed: 1)
        var history = SceneHistory(key: key, seq: start, document: scene.document, limits: limits)
        var documents: [UInt64: JSONValue] = [start: scene.document]
        while documents.count <= count {
            if let (seq, _) = history.publish(scene.advance()) { documents[seq] = history.document }
        }
        return (history, documents)
    }

    @Test func publishNumbersChangesOnly() throws {
        var history = SceneHistory(key: key, seq: 7, document: ["a": 1] as JSONValue)
        let unchanged = history.publish(["a": 1] as JSONValue)
        #expect(unchanged == nil)
        #expect(history.seq == 7)
        let changed = history.publish(["a": 2] as JSONValue)
        let published = try #require(changed)
        #expect(published.seq == 8)
        #expect(try JSONPatch(json: JSONValue(parsing: published.encodedOperations)).operations == [.replace(path: "/a", value: 2)])
        #expect(history.document == ["a": 2])
        #expect(history.encodedDocument == Array(#"{"a":2}"#.utf8))
        #expect(history.heldPatchCount == 1)
        #expect(history.oldestResumableSeq == 7)
    }

    @Test func catchUpInsideTheHistoryGivesThePatchesThatRebuildTheScene() throws {
        let (history, documents) = history(count: 50)
        for since in stride(from: history.seq - 50, to: history.seq, by: 7) {
            guard case .patches(let patches) = history.catchUp(since: since) else {
                Issue.record("expected patches from \(since)")
                continue
            }
            #expect(patches.count == Int(history.seq - since))
            #expect(patches.first?.base == since)
            #expect(patches.last?.seq == history.seq)
            var document = try #require(documents[since])
            for patch in patches {
                document = try patch.decoded().applied(to: document)
                #expect(document == documents[patch.seq])
            }
            #expect(document == history.document)
        }
        #expect(history.catchUp(since: history.seq) == .patches([]))
    }

    @Test func catchUpOutsideTheHistoryGivesTheFullScene() {
        let (history, _) = history(count: 30, limits: .init(maximumPatches: 10))
        #expect(history.heldPatchCount == 10)
        #expect(history.oldestResumableSeq == history.seq - 10)
        let full = SceneHistory.CatchUp.fullScene(seq: history.seq, document: history.document)
        #expect(history.catchUp(since: history.seq - 11) == full)
        #expect(history.catchUp(since: 0) == full)
        // A since from the future (another run of the daemon) cannot be trusted.
        #expect(history.catchUp(since: history.seq + 1) == full)
        if case .patches(let patches) = history.catchUp(since: history.seq - 10) {
            #expect(patches.count == 10)
        } else {
            Issue.record("the oldest held base must be resumable")
        }
    }

    @Test func historyIsBoundedInBytes() {
        let (history, _) = history(count: 200, limits: .init(maximumPatches: 10_000, maximumBytes: 2_000))
        #expect(history.heldPatchBytes <= 2_000)
        #expect(history.heldPatchCount >= 1)
        #expect(history.heldPatchCount < 200)
        // The newest patch is held even when it alone is over the bound.
        var tiny = SceneHistory(key: key, seq: 0, document: [:] as JSONValue, limits: .init(maximumPatches: 5, maximumBytes: 1))
        _ = tiny.publish(["long": .string(String(repeating: "x", count: 100))] as JSONValue)
        #expect(tiny.heldPatchCount == 1)
    }

    @Test func composedOperationsConcatenateTheHeldPatches() throws {
        let (history, documents) = history(count: 20)
        for since in (history.seq - 20)...history.seq {
            let composed = try JSONPatch(json: JSONValue(parsing: #require(history.composedOperations(since: since))))
            guard case .patches(let patches) = history.catchUp(since: since) else {
                Issue.record("expected patches")
                continue
            }
            var concatenated = JSONPatch()
            for patch in patches { concatenated = concatenated.appending(try patch.decoded()) }
            #expect(composed == concatenated)
            #expect(try composed.applied(to: #require(documents[since])) == history.document)
        }
        #expect(history.composedOperations(since: history.seq - 21) == nil)
        #expect(history.composedOperations(since: history.seq + 1) == nil)
    }

    @Test func updateLineIsAPatchWhenHeldAndSmallerElseAScene() throws {
        let (history, documents) = history(count: 40, limits: .init(maximumPatches: 30))
        // Current: nothing to send.
        #expect(history.updateLine(since: history.seq) == nil)
        // Inside the history: one combined patch from since.
        let since = history.seq - 5
        var replica = SceneReplica()
        try replica.apply(.scene(seq: since, scene: #require(documents[since])))
        let line = try #require(history.updateLine(since: since))
        guard case .patch(let seq, let base, _) = try ServerMessage(line: line.dropLast()) else {
            Issue.record("expected a patch line")
            return
        }
        #expect(seq == history.seq && base == since)
        try replica.apply(line: line)
        #expect(replica.document == history.document)
        #expect(replica.seq == history.seq)
        // Outside the history, unknown, or nothing held: the full scene.
        for since: UInt64? in [nil, history.seq - 31, history.seq + 10] {
            let line = try #require(history.updateLine(since: since))
            #expect(line == history.sceneLine())
            var fresh = SceneReplica()
            try fresh.apply(line: line)
            #expect(fresh.document == history.document)
        }
    }

    /// Fifty replaces of one number, concatenated, are larger than the scene: they used to be
    /// sent as the scene (a renderer resuming after a few seconds of a busy wall got a full
    /// scene although every patch was held). Their net change is one replace, sent as a patch;
    /// only a net change that is not smaller than the scene is sent as the scene.
    @Test func aLongRunIsSentAsItsNetChangeAndAsTheSceneOnlyWhenThatIsNotSmaller() throws {
        let pad = JSONValue.string(String(repeating: "x", count: 200))
        var history = SceneHistory(key: key, seq: 0, document: ["n": 0, "pad": pad] as JSONValue)
        for value in 1...50 { _ = history.publish(["n": .number(Double(value)), "pad": pad] as JSONValue) }
        let update = try #require(history.update(since: 0))
        #expect(update.isPatch)
        #expect(String(decoding: update.bytes, as: UTF8.self) == #"{"base":0,"patch":[{"op":"replace","path":"/n","value":50}],"seq":50,"type":"patch"}"# + "\n")
        let line = try #require(history.updateLine(since: 49))
        #expect(String(decoding: line, as: UTF8.self) == #"{"base":49,"patch":[{"op":"replace","path":"/n","value":50}],"seq":50,"type":"patch"}"# + "\n")

        // Everything rewritten at every publish: the net change is the whole scene.
        var churn = SceneHistory(key: key, seq: 0, document: ["pad": pad] as JSONValue)
        for value in 1...20 { _ = churn.publish(["pad": .string(String(repeating: "\(value % 10)", count: 200))] as JSONValue) }
        #expect(churn.updateLine(since: 0) == churn.sceneLine())
        #expect(churn.update(since: 0)?.isPatch == false)
    }

    @Test func theWindowIsTheAgeOfTheOldestVersionHeld() {
        var history = SceneHistory(key: key, seq: 0, document: ["n": 0] as JSONValue, limits: .init(maximumPatches: 3), now: 1_000)
        #expect(history.window(now: 5_000) == 4_000)
        for value in 1...5 { _ = history.publish(["n": .number(Double(value))] as JSONValue, now: UInt64(1_000 + value * 1_000)) }
        // Versions 2...5 are held (3 patches): version 2 was published at 3_000.
        #expect(history.oldestResumableSeq == 2)
        #expect(history.window(now: 10_000) == 7_000)
    }
}
