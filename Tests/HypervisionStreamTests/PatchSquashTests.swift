import HypervisionCore
import Testing

@testable import HypervisionStream

@Suite struct PatchSquashTests {
    func ops(_ operations: [JSONPatch.Operation]) -> [UInt8] { JSONPatch(operations: operations).encodedBytes }

    func squash(_ patches: [[JSONPatch.Operation]]) throws -> [JSONPatch.Operation] {
        let encoded = try #require(PatchSquash.squash(patches.map(ops)))
        return try JSONPatch(json: JSONValue(parsing: encoded)).operations
    }

    @Test func laterWritesOfAValueReplaceEarlierOnes() throws {
        let run: [[JSONPatch.Operation]] = (1...50).map { n in
            [.replace(path: "/units/PN-1/lat", value: .number(Double(n))), .replace(path: "/seq", value: .number(Double(n)))]
        }
        #expect(try squash(run) == [.replace(path: "/units/PN-1/lat", value: 50), .replace(path: "/seq", value: 50)])
    }

    @Test func addsRemovesAndWritesInsideAnAddedValue() throws {
        // A unit that appears, moves and leaves is no change at all; one that appears and moves
        // is one add with its last position; one that leaves then comes back is a replace.
        let run: [[JSONPatch.Operation]] = [
            [.add(path: "/units/A", value: ["lat": 1, "lon": 2]), .add(path: "/units/B", value: ["lat": 5])],
            [.replace(path: "/units/A/lat", value: 3), .remove(path: "/units/C")],
            [.remove(path: "/units/A"), .replace(path: "/units/B/lat", value: 6), .add(path: "/units/C", value: ["lat": 9])],
        ]
        #expect(try squash(run) == [.add(path: "/units/B", value: ["lat": 6]), .replace(path: "/units/C", value: ["lat": 9])])
    }

    @Test func aWriteOfAMemberReplacesEverythingDoneInsideIt() throws {
        let run: [[JSONPatch.Operation]] = [
            [.replace(path: "/tiles/t1/reason", value: "alarm 1 s"), .replace(path: "/tiles/t1/z", value: 3)],
            [.remove(path: "/tiles/t1")],
        ]
        #expect(try squash(run) == [.remove(path: "/tiles/t1")])
    }

    @Test func arrayOperationsKeepTheirOrderUnderTheArray() throws {
        let run: [[JSONPatch.Operation]] = [
            [.add(path: "/tiles/t1/streams/1", value: "b"), .replace(path: "/seq", value: 1)],
            [.remove(path: "/tiles/t1/streams/0"), .replace(path: "/seq", value: 2)],
        ]
        #expect(try squash(run) == [
            .add(path: "/tiles/t1/streams/1", value: "b"), .remove(path: "/tiles/t1/streams/0"), .replace(path: "/seq", value: 2),
        ])
    }

    @Test func whatItCannotSquashItRefuses() {
        #expect(PatchSquash.squash([ops([.move(from: "/a", path: "/b")])]) == nil)
        // A write inside a member that was removed: not a diff's patch.
        #expect(PatchSquash.squash([ops([.remove(path: "/a")]), ops([.replace(path: "/a/b", value: 1)])]) == nil)
        #expect(PatchSquash.squash([Array("not json".utf8)]) == nil)
    }

    /// Random documents, each next one a random edit of the last, patched by the generic diff:
    /// the squash of any run applied to its first document gives its last, and is never longer
    /// than the run concatenated.
    @Test func theSquashOfAnyRunRebuildsItsEnd() throws {
        var random = SeededRandom(seed: 42)
        for _ in 0..<40 {
            var documents: [JSONValue] = [Self.randomDocument(&random, depth: 3)]
            for _ in 0..<12 { documents.append(Self.edit(documents.last!, &random, depth: 3)) }
            let patches = zip(documents, documents.dropFirst()).map { JSONPatch.diff(from: $0, to: $1) }.filter { !$0.isEmpty }
            guard !patches.isEmpty else { continue }
            let squashed = try #require(PatchSquash.squash(patches.flatMap(\.operations)))
            #expect(try squashed.applied(to: documents.first!) == documents.last!)
            let concatenated = patches.reduce(JSONPatch()) { $0.appending($1) }
            #expect(squashed.encodedBytes.count <= concatenated.encodedBytes.count)
        }
    }

    static func randomDocument(_ random: inout SeededRandom, depth: Int) -> JSONValue {
        var members: [String: JSONValue] = [:]
        for _ in 0..<Int(random.next() % 5) { members[key(&random)] = value(&random, depth: depth - 1) }
        return .object(members)
    }

    static func key(_ random: inout SeededRandom) -> String { ["a", "b", "c", "d", "e~x", "f/y"][Int(random.next() % 6)] }

    static func value(_ random: inout SeededRandom, depth: Int) -> JSONValue {
        switch random.next() % (depth > 0 ? 4 : 2) {
        case 0: return .number(Double(random.next() % 10))
        case 1: return .string(["x", "y", "z"][Int(random.next() % 3)])
        case 2: return randomDocument(&random, depth: depth)
        default: return .array((0..<Int(random.next() % 4)).map { _ in value(&random, depth: depth - 1) })
        }
    }

    /// The document with a few members added, removed or changed, at any depth.
    static func edit(_ document: JSONValue, _ random: inout SeededRandom, depth: Int) -> JSONValue {
        switch document {
        case .object(var members):
            for _ in 0..<(1 + Int(random.next() % 2)) {
                let name = key(&random)
                switch random.next() % 3 {
                case 0: members[name] = nil
                case 1: members[name] = value(&random, depth: depth - 1)
                default: if let inner = members[name], depth > 0 { members[name] = edit(inner, &random, depth: depth - 1) }
                }
            }
            return .object(members)
        case .array(var elements):
            if !elements.isEmpty && random.next() % 2 == 0 { elements.remove(at: Int(random.next() % UInt64(elements.count))) } else {
                elements.append(value(&random, depth: depth - 1))
            }
            return .array(elements)
        default:
            return value(&random, depth: depth)
        }
    }
}
