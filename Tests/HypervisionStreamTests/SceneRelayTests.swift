import HypervisionCore
import Synchronization
import HypervisionLayout
import Testing

@testable import HypervisionStream

/// What relays a wall between daemons, without sockets: the parts of a version, their assembly,
/// operator changes, and a history that takes the owner's sequence numbers.
@Suite struct SceneRelayTests {
    /// The owner relays every version its hub publishes, hundreds a second. The observer was held
    /// as a `Mutex<(closure)?>`: each call wrapped it in one more thunk, so each cost more than the
    /// one before and some 100,000 versions overflowed the stack (an owner crashed within minutes).
    /// A daemon that laid a wall out alone while cut off numbered it its own way; relaying the
    /// owner again, it starts the stream over at the owner's (lower) number, and its renderers
    /// are told so and come back for the whole scene.
    @Test func aStreamStartedAgainTellsItsSubscribersAndTakesALowerNumber() throws {
        let hub = SceneHub()
        let key = StreamKey(wall: "w")
        hub.publish(key, content: ["v": 1] as JSONValue, as: 5_000)
        hub.publish(key, content: ["v": 2] as JSONValue)
        let sink = RecordingSink()
        _ = hub.subscribe(SubscribeRequest(wall: "w"), sink: sink)
        // An ordinary version with a lower number is not taken...
        #expect(hub.publish(key, content: ["v": 3] as JSONValue, as: 10) == nil)
        #expect(hub.current(key)?.seq == 5_001)
        // ...a restart is.
        hub.restart(key, content: RelayedDocument(document: ["v": 4]), as: 10, because: StreamError(code: .renumbered, message: "again"))
        #expect(hub.current(key)?.seq == 10)
        #expect(hub.current(key)?.json == ["v": 4])
        let last = try #require(sink.received.last.map { String(decoding: $0.line, as: UTF8.self) })
        #expect(last.contains(#""code":"renumbered""#), "\(last)")
        #expect(hub.subscriberCount == 0)
        // Resuming with the old number gets the whole scene; the next version is a patch.
        let again = RecordingSink()
        _ = hub.subscribe(SubscribeRequest(wall: "w", since: 5_001), sink: again)
        hub.publish(key, content: RelayedDocument(patching: try #require(hub.current(key)), base: 10, operations: Array(#"[{"op":"replace","path":"/v","value":5}]"#.utf8)), as: 11)
        let lines = again.received.map { String(decoding: $0.line, as: UTF8.self) }
        #expect(lines.first?.contains(#""type":"scene""#) == true && lines.first?.contains(#""seq":10"#) == true, "\(lines)")
        #expect(hub.current(key)?.seq == 11)
    }

    @Test func thePublicationObserverHearsEveryVersionOfALongRun() async {
        let hub = SceneHub()
        let heard = Mutex((count: 0, lastSeq: UInt64(0)))
        hub.observePublications { _, seq, _ in heard.withLock { $0 = ($0.count + 1, seq) } }
        let versions = 250_000
        let last = await Task.detached {
            var last: UInt64?
            for n in 0..<versions { last = hub.publish(StreamKey(wall: "w"), content: ["v": .number(Double(n % 3))] as JSONValue) }
            return last
        }.value
        #expect(heard.withLock { $0.count } == versions)
        #expect(heard.withLock { $0.lastSeq } == last)
    }

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
        let operations = Array(#"[{"op":"replace","path":"/seq","value":101},{"op":"replace","path":"/value","value":1010}]"#.utf8)
        let stepped = history.publish(RelayedDocument(patching: history.current, base: 100, operations: operations), as: 101)
        let step = try #require(stepped)
        #expect(step.seq == 101 && step.encodedOperations == operations)
        #expect(history.document == document(101))
        let old = history.publish(RelayedDocument(document: document(99)), as: 99)
        let repeated = history.publish(RelayedDocument(document: document(101)), as: 101)
        #expect(old == nil && repeated == nil)
        let jumped = history.publish(RelayedDocument(document: document(200)), as: 200)
        let gap = try #require(jumped)
        #expect(gap.seq == 200 && gap.encodedOperations.isEmpty)
        #expect(history.heldPatchCount == 0 && history.document == document(200))
        if case .fullScene(let seq, _) = history.catchUp(since: 101) { #expect(seq == 200) } else { Issue.record("a resume across the gap must get the scene") }
    }

    /// A round's unit operations are found in a patch that carries them (never searched for), sent
    /// once, and put back: the relayed bytes equal the owner's.
    @Test func sharedUnitOperationsTravelOnceAndArePutBack() throws {
        let before = WallRoundDocumentTests.scene(units: ["A": 48.1, "B": 48.2])
        var after = WallRoundDocumentTests.scene(units: ["A": 48.15, "C": 48.3])
        after.moved = 2
        let operations = SceneUnit.changes(from: before.units, to: after.units)
        let previous = WallRoundDocumentTests.round(before, version: 3, base: 2, operations: [])
        let next = WallRoundDocumentTests.round(after, version: 4, base: 3, operations: operations)
        let patch = try #require(next.encodedPatch(since: previous, seq: 11))
        let range = try #require(next.sharedUnitOperationsRange(in: patch, seq: 11))
        #expect(Array(patch[range]) == next.encodedUnitOperations)
        // A patch that diffed its own units does not claim them.
        let own = try #require(next.encodedPatch(since: WallRoundDocumentTests.round(before, version: 1, base: 0, operations: []), seq: 11))
        #expect(next.sharedUnitOperationsRange(in: own, seq: 11) == nil || own == patch)

        var body = Array(patch[..<range.lowerBound])
        body.append(SceneRelayCodec.unitsMarker)
        body += patch[range.upperBound...]
        let unitPayloads = SceneRelayCodec.encodeUnits(node: "a", wall: "w", version: 4, operations: next.encodedUnitOperations, maximumBytes: 200)
        let versionPayloads = SceneRelayCodec.encode(node: "a", key: StreamKey(wall: "w"), seq: 11, base: 10, units: 4, body: body, maximumBytes: 200)
        var assembler = SceneRelayAssembler()
        var shared: [UInt8]?
        var relayed: SceneRelayAssembler.Version?
        for payload in unitPayloads + versionPayloads {
            switch try SceneRelayCodec.decode(payload) {
            case .units(let part): if let whole = assembler.add(part) { shared = whole.body }
            case .part(let part): if let whole = assembler.add(part) { relayed = whole }
            default: Issue.record("unexpected \(payload.prefix(20))")
            }
        }
        let version = try #require(relayed)
        let units = try #require(shared)
        #expect(version.units == 4 && version.base == 10)
        let marker = try #require(version.body.firstIndex(of: SceneRelayCodec.unitsMarker))
        #expect(Array(version.body[..<marker]) + units + version.body[(marker + 1)...] == patch)
    }

    /// A relayed version is made only when needed, from the last one made and the patches since.
    @Test func aLongChainOfRelayedPatchesMakesTheOwnersDocument() throws {
        var previous = PublishedDocument(seq: 0, document: RelayedDocument(document: .object(["n": .number(0), "log": .array([])])))
        for seq in 1...150 {
            let operations = Array(#"[{"op":"replace","path":"/n","value":\#(seq)},{"op":"add","path":"/log/-","value":\#(seq)}]"#.utf8)
            let relayed = RelayedDocument(patching: previous, base: UInt64(seq - 1), operations: operations)
            #expect(relayed.depth == (seq <= 100 ? seq : seq - 100))
            previous = PublishedDocument(seq: UInt64(seq), document: relayed)
            if seq == 100 { _ = previous.json }  // made once on the way, as the relay does
        }
        let made = previous.json
        #expect(made.objectValue?["n"] == .number(150))
        #expect(made.objectValue?["log"]?.arrayValue?.count == 150)
    }
}

