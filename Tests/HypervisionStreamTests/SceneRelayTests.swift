import HypervisionCore
import HypervisionLayout
import Testing

@testable import HypervisionStream

/// What relays a wall between daemons, without sockets: the parts of a version, their assembly,
/// operator changes, and a history that takes the owner's sequence numbers.
@Suite struct SceneRelayTests {
    @Test func aVersionCutIntoPartsComesBackWholeEvenAcrossMultibyteCharacters() throws {
        let body = Array(String(repeating: "caméra é€𝄞 ", count: 2_000).utf8)
        let key = StreamKey(wall: "ops", display: "r0c1")
        let payloads = SceneRelayCodec.encode(node: "cic-a", key: key, seq: 42, base: 41, body: body, maximumBytes: 1_000)
        #expect(payloads.count > 20)
        #expect(payloads.allSatisfy { $0.utf8.count <= 1_000 })
        var assembler = SceneRelayAssembler()
        var whole: [SceneRelayAssembler.Version] = []
        for payload in payloads {
            guard case .part(let part) = try SceneRelayCodec.decode(payload) else { Issue.record("not a part"); return }
            if let version = assembler.add(part) { whole.append(version) }
        }
        #expect(whole == [SceneRelayAssembler.Version(node: "cic-a", key: key, seq: 42, base: 41, body: body)])
    }

    @Test func aVersionMissingAPartIsDroppedAndTheNextOneStillAssembles() throws {
        let key = StreamKey(wall: "ops")
        let first = SceneRelayCodec.encode(node: "n", key: key, seq: 1, base: nil, body: Array(repeating: 65, count: 3_000), maximumBytes: 1_000)
        let second = SceneRelayCodec.encode(node: "n", key: key, seq: 2, base: 1, body: Array(repeating: 66, count: 3_000), maximumBytes: 1_000)
        var assembler = SceneRelayAssembler()
        var whole: [UInt64] = []
        for payload in first.dropLast() + second {
            guard case .part(let part) = try SceneRelayCodec.decode(payload) else { continue }
            if let version = assembler.add(part) { whole.append(version.seq) }
        }
        #expect(whole == [2])
    }

    @Test func requestsAndBadPayloads() throws {
        #expect(try SceneRelayCodec.decode(SceneRelayCodec.request(node: "b", wall: nil, display: nil))
            == .keyframeRequest(node: "b", wall: nil, display: nil, wholeWall: false))
        #expect(try SceneRelayCodec.decode(SceneRelayCodec.request(node: "b", wall: "ops", display: "r0c0"))
            == .keyframeRequest(node: "b", wall: "ops", display: "r0c0", wholeWall: false))
        #expect(try SceneRelayCodec.decode(SceneRelayCodec.request(node: "b", wall: "ops", display: nil, wholeWall: true))
            == .keyframeRequest(node: "b", wall: "ops", display: nil, wholeWall: true))
        for bad in ["", "S1 n ops - x - 0 1\n{}", "S1 n ops - 5 - 2 1\n{}", "K1 n", "Z9 n ops -"] {
            #expect(throws: SceneRelayCodec.Unreadable.self) { try SceneRelayCodec.decode(bad) }
        }
        #expect(!SceneRelayCodec.canCarry("a b") && !SceneRelayCodec.canCarry("*") && SceneRelayCodec.canCarry("cic-paris"))
    }

    @Test func operatorChangesTravelWhole() throws {
        let changes: [WallChange] = [
            .pinned(wall: "ops", Pin(camera: "cam-1", region: "cams", pinnedAt: Timestamp(microseconds: 1_780_000_000_123_456),
                                     expiresAt: Timestamp(microseconds: 1_780_000_900_000_000), pinnedBy: "night desk")),
            .pinned(wall: "ops", Pin(camera: "cam-2", pinnedAt: Timestamp(microseconds: 7))),
            .unpinned(wall: "ops", camera: "cam-1"),
            .tourStarted(wall: "ops", GuardTour(id: "night", cameras: ["a", "b"], dwellSeconds: 12.5, startedAt: Timestamp(microseconds: 99), region: nil)),
            .tourStopped(wall: "ops", tour: "night"), .stored(wall: "w2"), .forgotten(wall: "w2"),
        ]
        for change in changes {
            let payload = try #require(change.encode(node: "cic-b"))
            let decoded = try WallChange.decode(payload)
            #expect(decoded.node == "cic-b" && decoded.change == change)
        }
        #expect(WallChange.stored(wall: "a b").encode(node: "n") == nil)
        #expect(throws: SceneRelayCodec.Unreadable.self) { try WallChange.decode("A1 n ops\n{\"change\":\"pinned\"}") }
    }

    @Test func aHistoryTakesTheOwnersNumbersStartingAgainAtAGapAndIgnoringOldOnes() throws {
        let key = StreamKey(wall: "ops")
        func document(_ n: Int) -> JSONValue { .object(["seq": .number(Double(n)), "value": .number(Double(n * 10))]) }
        var history = SceneHistory(key: key, seq: 100, document: RelayedDocument(document: document(100)))
        let stepped = history.publish(RelayedDocument(document: document(101), base: 100, encodedOperations: Array("[1]".utf8)), as: 101)
        let step = try #require(stepped)
        #expect(step.seq == 101 && step.encodedOperations == Array("[1]".utf8))
        let old = history.publish(RelayedDocument(document: document(99)), as: 99)
        let repeated = history.publish(RelayedDocument(document: document(101)), as: 101)
        #expect(old == nil && repeated == nil)
        let jumped = history.publish(RelayedDocument(document: document(200)), as: 200)
        let gap = try #require(jumped)
        #expect(gap.seq == 200 && gap.encodedOperations.isEmpty)
        #expect(history.heldPatchCount == 0 && history.document == document(200))
        if case .fullScene(let seq, _) = history.catchUp(since: 101) { #expect(seq == 200) } else { Issue.record("a resume across the gap must get the scene") }
    }
}
