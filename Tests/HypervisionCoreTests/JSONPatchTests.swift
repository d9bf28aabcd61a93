import Foundation
import Testing

@testable import HypervisionCore

@Suite struct JSONPatchTests {
    private func json(_ text: String) throws -> JSONValue { try JSONValue(parsing: text) }

    private func patch(_ text: String) throws -> JSONPatch { try JSONPatch(json: JSONValue(parsing: text)) }

    // MARK: RFC 6902 appendix A

    /// The examples of RFC 6902 appendix A that must succeed: (document, patch, result).
    static let appendixSuccesses: [(String, String, String, String)] = [
        ("A.1 add an object member", #"{"foo":"bar"}"#, #"[{"op":"add","path":"/baz","value":"qux"}]"#, #"{"baz":"qux","foo":"bar"}"#),
        ("A.2 add an array element", #"{"foo":["bar","baz"]}"#, #"[{"op":"add","path":"/foo/1","value":"qux"}]"#, #"{"foo":["bar","qux","baz"]}"#),
        ("A.3 remove an object member", #"{"baz":"qux","foo":"bar"}"#, #"[{"op":"remove","path":"/baz"}]"#, #"{"foo":"bar"}"#),
        ("A.4 remove an array element", #"{"foo":["bar","qux","baz"]}"#, #"[{"op":"remove","path":"/foo/1"}]"#, #"{"foo":["bar","baz"]}"#),
        ("A.5 replace a value", #"{"baz":"qux","foo":"bar"}"#, #"[{"op":"replace","path":"/baz","value":"boo"}]"#, #"{"baz":"boo","foo":"bar"}"#),
        (
            "A.6 move a value", #"{"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}}"#,
            #"[{"op":"move","from":"/foo/waldo","path":"/qux/thud"}]"#,
            #"{"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}}"#
        ),
        ("A.7 move an array element", #"{"foo":["all","grass","cows","eat"]}"#, #"[{"op":"move","from":"/foo/1","path":"/foo/3"}]"#, #"{"foo":["all","cows","eat","grass"]}"#),
        (
            "A.8 test a value: success", #"{"baz":"qux","foo":["a",2,"c"]}"#,
            #"[{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}]"#,
            #"{"baz":"qux","foo":["a",2,"c"]}"#
        ),
        ("A.10 add a nested member object", #"{"foo":"bar"}"#, #"[{"op":"add","path":"/child","value":{"grandchild":{}}}]"#, #"{"child":{"grandchild":{}},"foo":"bar"}"#),
        ("A.11 ignore unrecognized elements", #"{"foo":"bar"}"#, #"[{"op":"add","path":"/baz","value":"qux","xyz":123}]"#, #"{"baz":"qux","foo":"bar"}"#),
        ("A.14 ~ escape ordering", #"{"/":9,"~1":10}"#, #"[{"op":"test","path":"/~01","value":10}]"#, #"{"/":9,"~1":10}"#),
        ("A.16 add an array value", #"{"foo":["bar"]}"#, #"[{"op":"add","path":"/foo/-","value":["abc","def"]}]"#, #"{"foo":["bar",["abc","def"]]}"#),
    ]

    @Test func anEncodedPatchAppliedInOneGoGivesWhatTheParsedPatchGives() throws {
        let base: JSONValue = ["units": ["a": ["lat": 1, "lon": 2], "b/c": ["lat": 3]], "list": [1, 2, 3]]
        let text = #"[{"op":"replace","path":"/units/a/lat","value":5},{"op":"add","path":"/units/b~1c/lon","value":4},"#
            + #"{"op":"remove","path":"/list/0"},{"op":"move","from":"/units/a/lon","path":"/lon"},{"op":"test","path":"/lon","value":2}]"#
        var viaParsed = base
        try JSONPatch(json: JSONValue(parsing: Array(text.utf8))).apply(to: &viaParsed)
        var inOneGo = base
        try JSONPatch.apply(encoded: Array(text.utf8), to: &inOneGo)
        #expect(inOneGo == viaParsed)
        #expect(inOneGo != base)
        // A bad pointer still fails, when its operation is applied, after the ones before it.
        var partial = base
        #expect(throws: JSONPatchError.self) {
            try JSONPatch.apply(encoded: Array(#"[{"op":"replace","path":"/list/0","value":9},{"op":"remove","path":"list"}]"#.utf8), to: &partial)
        }
        #expect(partial["list"] == [9, 2, 3])
        #expect(throws: JSONPatchError.self) { try JSONPatch.apply(encoded: Array(#"{"op":"remove"}"#.utf8), to: &partial) }
    }

    @Test(arguments: appendixSuccesses)
    func rfc6902Appendix(name: String, document: String, operations: String, expected: String) throws {
        let result = try patch(operations).applied(to: json(document))
        #expect(result == (try json(expected)), "\(name)")
        #expect(result.encoded() == expected, "\(name)")
    }

    @Test func rfc6902AppendixFailures() throws {
        // A.9 test a value: error.
        #expect(throws: JSONPatchError.self) {
            try patch(#"[{"op":"test","path":"/baz","value":"bar"}]"#).applied(to: json(#"{"baz":"qux"}"#))
        }
        // A.12 add to a nonexistent target.
        #expect {
            try patch(#"[{"op":"add","path":"/baz/bat","value":"qux"}]"#).applied(to: json(#"{"foo":"bar"}"#))
        } throws: { error in
            (error as? JSONPatchError)?.kind == .targetNotFound && (error as? JSONPatchError)?.operationIndex == 0
        }
        // A.13 invalid JSON Patch document: the duplicate "op" is already refused by the parser.
        #expect(throws: JSONParseError.self) {
            try JSONValue(parsing: #"[{"op":"add","path":"/baz","value":"qux","op":"remove"}]"#)
        }
        // A.15 comparing strings and numbers.
        #expect {
            try patch(#"[{"op":"test","path":"/~01","value":"10"}]"#).applied(to: json(#"{"/":9,"~1":10}"#))
        } throws: { error in
            (error as? JSONPatchError)?.kind == .testFailed
        }
    }

    // MARK: Semantics beyond the appendix

    @Test func rootOperations() throws {
        let document: JSONValue = ["a": 1]
        #expect(try JSONPatch(operations: [.replace(path: "", value: [1, 2])]).applied(to: document) == [1, 2])
        #expect(try JSONPatch(operations: [.add(path: "", value: "x")]).applied(to: document) == "x")
        #expect(try JSONPatch(operations: [.test(path: "", value: ["a": 1])]).applied(to: document) == document)
        #expect {
            try JSONPatch(operations: [.remove(path: "")]).applied(to: document)
        } throws: { ($0 as? JSONPatchError)?.kind == .invalidOperation }
    }

    @Test func arrayIndexRules() throws {
        let document: JSONValue = ["a": [0, 1, 2]]
        #expect(try JSONPatch(operations: [.add(path: "/a/3", value: 3)]).applied(to: document) == ["a": [0, 1, 2, 3]])
        #expect(try JSONPatch(operations: [.add(path: "/a/-", value: 3)]).applied(to: document) == ["a": [0, 1, 2, 3]])
        #expect(try JSONPatch(operations: [.add(path: "/a/0", value: 9)]).applied(to: document) == ["a": [9, 0, 1, 2]])
        #expect(try JSONPatch(operations: [.replace(path: "/a/2", value: 9)]).applied(to: document) == ["a": [0, 1, 9]])
        let failures: [(JSONPatch.Operation, JSONPatchError.Kind)] = [
            (.add(path: "/a/4", value: 4), .targetNotFound),
            (.add(path: "/a/01", value: 4), .invalidArrayIndex),
            (.add(path: "/a/x", value: 4), .invalidArrayIndex),
            (.remove(path: "/a/3"), .targetNotFound),
            (.remove(path: "/a/-"), .invalidArrayIndex),
            (.replace(path: "/a/-1", value: 0), .invalidArrayIndex),
            (.replace(path: "/b", value: 0), .targetNotFound),
            (.remove(path: "/a/0/x"), .targetNotFound),
            (.add(path: "a", value: 0), .invalidPointer),
            (.add(path: "/a~2", value: 0), .invalidPointer),
            (.copy(from: "/missing", path: "/b"), .targetNotFound),
            (.move(from: "/a", path: "/a/0"), .invalidOperation),
            (.test(path: "/a/5", value: 0), .targetNotFound),
        ]
        for (operation, kind) in failures {
            #expect(
                performing: { try JSONPatch(operations: [.test(path: "", value: document), operation]).applied(to: document) },
                throws: { error in
                    guard let error = error as? JSONPatchError else { return false }
                    return error.kind == kind && error.operationIndex == 1
                })
        }
    }

    @Test func moveAndCopy() throws {
        let document: JSONValue = ["a": ["x": 1], "b": [1, 2]]
        #expect(try JSONPatch(operations: [.copy(from: "/a", path: "/c")]).applied(to: document) == ["a": ["x": 1], "b": [1, 2], "c": ["x": 1]])
        #expect(try JSONPatch(operations: [.move(from: "/a", path: "/a")]).applied(to: document) == document)
        #expect(try JSONPatch(operations: [.move(from: "/b/0", path: "/b/-")]).applied(to: document) == ["a": ["x": 1], "b": [2, 1]])
        #expect(try JSONPatch(operations: [.move(from: "/a/x", path: "/b/0")]).applied(to: document) == ["a": [:], "b": [1, 1, 2]])
        // Moving into a sibling whose name extends the source's is not moving into a child.
        #expect(try JSONPatch(operations: [.move(from: "/a", path: "/ab")]).applied(to: document) == ["ab": ["x": 1], "b": [1, 2]])
    }

    @Test func failedPatchLeavesTheDocumentUntouched() throws {
        let document: JSONValue = ["a": ["b": 1]]
        let bad = JSONPatch(operations: [.replace(path: "/a/b", value: 2), .remove(path: "/nope")])
        #expect(throws: JSONPatchError.self) { try bad.applied(to: document) }
        #expect(document == ["a": ["b": 1]])
    }

    // MARK: Pointers

    @Test func pointerEscaping() throws {
        // RFC 6901 §5.
        let document = try json(#"{"foo":["bar","baz"],"":0,"a/b":1,"c%d":2,"e^f":3,"g|h":4,"i\\j":5,"k\"l":6," ":7,"m~n":8}"#)
        let cases: [(String, JSONValue)] = [
            ("", document), ("/foo", ["bar", "baz"]), ("/foo/0", "bar"), ("/", 0), ("/a~1b", 1), ("/c%d", 2),
            ("/e^f", 3), ("/g|h", 4), ("/i\\j", 5), ("/k\"l", 6), ("/ ", 7), ("/m~0n", 8),
        ]
        for (text, expected) in cases {
            let pointer = try JSONPointer(parsing: text)
            #expect(pointer.resolve(in: document) == expected, "\(text)")
            #expect(pointer.description == text)
        }
        #expect(JSONPointer.escape("~1/") == "~01~1")
        #expect(try JSONPointer(parsing: "/~01").tokens == ["~1"])
        #expect(JSONPointer(tokens: ["a/b", "~", ""]).description == "/a~1b/~0/")
        #expect(throws: JSONPatchError.self) { try JSONPointer(parsing: "/a~") }
        #expect(throws: JSONPatchError.self) { try JSONPointer(parsing: "x") }
        #expect(JSONPointer(tokens: ["a"]).isProperPrefix(of: JSONPointer(tokens: ["a", "b"])))
        #expect(!JSONPointer(tokens: ["a"]).isProperPrefix(of: JSONPointer(tokens: ["a"])))
    }

    @Test func diffEscapesKeys() throws {
        let from: JSONValue = ["tiles": ["cam/1": ["x": 0], "a~b": 1]]
        let to: JSONValue = ["tiles": ["cam/1": ["x": 5], "a~b": 2]]
        let result = JSONPatch.diff(from: from, to: to)
        #expect(result.json.encoded() == #"[{"op":"replace","path":"/tiles/a~0b","value":2},{"op":"replace","path":"/tiles/cam~11/x","value":5}]"#)
        #expect(try result.applied(to: from) == to)
    }

    // MARK: Diff

    @Test func diffOfAMemberNamedDash() throws {
        // `add` on an existing member replaces it (RFC 6902 §4.1) and works with libraries that
        // refuse `replace` on a path ending in "-".
        let operations = JSONPatch.diff(from: ["-": 1, "a": ["-": [1]]], to: ["-": 2, "a": ["-": [true]]]).operations
        #expect(operations == [.add(path: "/-", value: 2), .replace(path: "/a/-/0", value: true)])
        #expect(try JSONPatch(operations: operations).applied(to: ["-": 1, "a": ["-": [1]]]) == ["-": 2, "a": ["-": [true]]])
    }

    @Test func diffOfEqualDocumentsIsEmpty() {
        let document: JSONValue = ["a": [1, ["b": nil]], "c": "d"]
        #expect(JSONPatch.diff(from: document, to: document).isEmpty)
    }

    @Test func diffNamesTheSmallestChange() {
        let from: JSONValue = ["units": ["PN-1": ["lat": 48.85, "lon": 2.35, "status": "available"], "PN-2": ["lat": 1]], "seq": 1]
        let to: JSONValue = ["units": ["PN-1": ["lat": 48.86, "lon": 2.35, "status": "available"], "PN-3": ["lat": 2]], "seq": 1]
        #expect(
            JSONPatch.diff(from: from, to: to).operations == [
                .replace(path: "/units/PN-1/lat", value: 48.86),
                .remove(path: "/units/PN-2"),
                .add(path: "/units/PN-3", value: ["lat": 2]),
            ])
    }

    @Test func diffOfArrays() throws {
        #expect(JSONPatch.diff(from: [1, 2, 3], to: [1, 5, 3]).operations == [.replace(path: "/1", value: 5)])
        #expect(JSONPatch.diff(from: [1, 2], to: [1, 2, 3]).operations == [.add(path: "/2", value: 3)])
        let long: [JSONValue] = (0..<20).map { .string("element-\($0)") }
        #expect(JSONPatch.diff(from: .array(long), to: .array(Array(long.prefix(18)))).operations == [.remove(path: "/19"), .remove(path: "/18")])
        // Removals that cost more than the array left: replace it whole.
        #expect(JSONPatch.diff(from: [1, 2, 3, 4], to: [1, 2]).operations == [.replace(path: "", value: [1, 2])])
        // Inserting at the front shifts every element: replacing the array whole is smaller.
        #expect(JSONPatch.diff(from: .array(long), to: .array(["new"] + long)).operations == [.replace(path: "", value: .array(["new"] + long))])
        #expect(JSONPatch.diff(from: 1, to: "1").operations == [.replace(path: "", value: "1")])
    }

    @Test func diffThenApplyGivesTheTarget() throws {
        var generator = SeededRandom(seed: 42)
        for round in 0..<1000 {
            let from = JSONValue.random(using: &generator, depth: 4)
            let to =
                round % 2 == 0
                ? JSONValue.random(using: &generator, depth: 4) : from.mutated(using: &generator, changes: 1 + round % 5)
            let patch = JSONPatch.diff(from: from, to: to)
            let result = try patch.applied(to: from)
            #expect(result == to, "\(from.encoded()) -> \(to.encoded()) by \(patch.json.encoded())")
            #expect(result.encoded() == to.encoded())
            // The wire form reads back to the same patch.
            #expect(try JSONPatch(json: JSONValue(parsing: patch.json.encoded())) == patch)
        }
    }

    @Test func composedPatchesGiveTheLastDocument() throws {
        var generator = SeededRandom(seed: 3)
        var document = JSONValue.random(using: &generator, depth: 3)
        let start = document
        var composed = JSONPatch()
        for _ in 0..<50 {
            let next = document.mutated(using: &generator, changes: 2)
            composed = composed.appending(JSONPatch.diff(from: document, to: next))
            document = next
        }
        #expect(try composed.applied(to: start) == document)
    }

    @Test func malformedPatchDocuments() throws {
        let cases: [(String, Int?)] = [
            (#"{"op":"add"}"#, nil),
            (#"[1]"#, 0),
            (#"[{"path":"/a","value":1}]"#, 0),
            (#"[{"op":"add","path":"/a","value":1},{"op":"add","path":"/a"}]"#, 1),
            (#"[{"op":"add","path":5,"value":1}]"#, 0),
            (#"[{"op":"move","path":"/a"}]"#, 0),
            (#"[{"op":"frobnicate","path":"/a"}]"#, 0),
            (#"[{"op":"remove","path":"a"}]"#, 0),
        ]
        for (text, index) in cases {
            #expect(
                performing: { try JSONPatch(json: JSONValue(parsing: text)) },
                throws: { error in
                    guard let error = error as? JSONPatchError else { return false }
                    return error.operationIndex == index
                })
        }
        // `null` is a value, not a missing member.
        #expect(try JSONPatch(json: JSONValue(parsing: #"[{"op":"add","path":"/a","value":null}]"#)).operations == [.add(path: "/a", value: nil)])
    }

    // MARK: Cross-check corpus

    /// With `HYPERVISION_PATCH_CORPUS=/path/file.jsonl`, writes `{"from":…,"to":…,"patch":…}` lines
    /// for `scripts/check-json-patch.py`, which applies each patch with an independent RFC 6902
    /// implementation (Python's `jsonpatch`) and checks that it gives `to`.
    @Test(.enabled(if: !(ProcessInfo.processInfo.environment["HYPERVISION_PATCH_CORPUS"] ?? "").isEmpty, "set HYPERVISION_PATCH_CORPUS to write the cross-check corpus (scripts/test does)")) func writeCrossCheckCorpus() throws {
        let path = ProcessInfo.processInfo.environment["HYPERVISION_PATCH_CORPUS"]!
        var generator = SeededRandom(seed: 2026)
        var lines: [UInt8] = []
        for round in 0..<2000 {
            let from = JSONValue.random(using: &generator, depth: 4)
            let to =
                round % 3 == 0
                ? JSONValue.random(using: &generator, depth: 4) : from.mutated(using: &generator, changes: 1 + round % 6)
            let patch = JSONPatch.diff(from: from, to: to)
            JSONValue.object(["from": from, "to": to, "patch": patch.json]).encode(into: &lines)
            lines.append(UInt8(ascii: "\n"))
        }
        try Data(lines).write(to: URL(fileURLWithPath: path))
    }

    /// With `HYPERVISION_PATCH_FOREIGN_CORPUS=/path/file.jsonl` (written by
    /// `scripts/check-json-patch.py --write-foreign`), applies patches computed by Python's
    /// `jsonpatch.make_patch`, which uses `move` and `copy`, and checks they give `to`.
    @Test(.enabled(if: !(ProcessInfo.processInfo.environment["HYPERVISION_PATCH_FOREIGN_CORPUS"] ?? "").isEmpty, "set HYPERVISION_PATCH_FOREIGN_CORPUS to apply the corpus scripts/check-json-patch.py wrote (scripts/test does)")) func applyForeignCorpus() throws {
        let path = ProcessInfo.processInfo.environment["HYPERVISION_PATCH_FOREIGN_CORPUS"]!
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        var count = 0
        for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            let item = try JSONValue(parsing: line)
            let from = try #require(item["from"]), to = try #require(item["to"]), patch = try JSONPatch(json: #require(item["patch"]))
            #expect(try patch.applied(to: from) == to, "\(patch.json.encoded())")
            count += 1
        }
        #expect(count > 0)
    }
}

extension JSONValue {
    /// This document with `changes` small random edits (a value replaced, a member added or removed,
    /// an element appended or dropped), the kind of change a scene goes through between two frames.
    func mutated(using generator: inout SeededRandom, changes: Int) -> JSONValue {
        var result = self
        for _ in 0..<changes { result = result.mutatedOnce(using: &generator) }
        return result
    }

    private func mutatedOnce(using generator: inout SeededRandom) -> JSONValue {
        let descend = Int.random(in: 0..<3, using: &generator) != 0
        switch self {
        case .object(var members):
            if descend, let key = members.keys.sorted(by: JSONValue.utf8Precedes).randomElement(using: &generator) {
                members[key] = members[key]!.mutatedOnce(using: &generator)
            } else if Bool.random(using: &generator), let key = members.keys.sorted(by: JSONValue.utf8Precedes).randomElement(using: &generator) {
                members[key] = nil
            } else {
                members[JSONValue.randomKey(using: &generator)] = JSONValue.random(using: &generator, depth: 1)
            }
            return .object(members)
        case .array(var elements):
            if descend, !elements.isEmpty {
                let index = Int.random(in: 0..<elements.count, using: &generator)
                elements[index] = elements[index].mutatedOnce(using: &generator)
            } else if Bool.random(using: &generator), !elements.isEmpty {
                elements.removeLast()
            } else {
                elements.append(JSONValue.random(using: &generator, depth: 1))
            }
            return .array(elements)
        default:
            return JSONValue.random(using: &generator, depth: 1)
        }
    }
}
