import HypervisionCore

// Typed diffs between successive scenes (and display views).
//
// Diffing the scene's JSON documents costs time in proportion to the whole scene (a 6x4 wall
// with 1,000 units is a 165 KB document: about 1.3 ms), although a round usually moves a few
// markers. These diffs compare the typed values instead: one dictionary lookup and one struct
// comparison per unit, tile and incident, and JSON is built only for what changed. The result is
// a valid RFC 6902 patch from the previous document to the next; it need not be the same list of
// operations as `JSONPatch.diff` of the two documents, only apply to the same result (the tests
// check both, and CI applies such patches with Python's `jsonpatch`).
//
// `seq` and `generatedAt` are left out: the scene hub stamps them (see ``stampOperations(seq:)``).

extension Scene {
    /// The operations that turn `previous`'s document into this one's, except `seq` and
    /// `generatedAt`; empty when nothing else changed.
    public func changes(since previous: Scene) -> [JSONPatch.Operation] {
        changes(since: previous, unitOperations: nil)
    }

    /// ``changes(since:)`` with the unit operations already known (``SceneUnit/changes(from:to:)``
    /// of the two scenes' units, computed once for a scene and all its display views).
    public func changes(since previous: Scene, unitOperations: [JSONPatch.Operation]?) -> [JSONPatch.Operation] {
        var operations: [JSONPatch.Operation] = []
        if wall != previous.wall { operations.append(.replace(path: "/wall", value: .string(wall))) }
        if canvasWidth != previous.canvasWidth || canvasHeight != previous.canvasHeight {
            operations.append(
                .replace(path: "/canvas", value: .object(["width": .number(Double(canvasWidth)), "height": .number(Double(canvasHeight))])))
        }
        if displays != previous.displays {
            let before = json(displays: previous.displays)
            let after = json(displays: displays)
            JSONPatch.appendDiff(from: before, to: after, at: "/displays", into: &operations)
        }
        SceneDiff.members(from: previous.tiles, to: tiles, at: "/tiles", into: &operations, json: \.json, shortcut: SceneDiff.reasonOnly)
        SceneDiff.units(from: previous.units, to: units, known: unitOperations, into: &operations)
        SceneDiff.members(from: previous.incidents, to: incidents, at: "/incidents", into: &operations, json: \.json)
        if moved != previous.moved { operations.append(.replace(path: "/moved", value: .number(Double(moved)))) }
        return operations
    }

    /// The operations that write a new sequence number and this scene's generation time.
    public func stampOperations(seq: UInt64) -> [JSONPatch.Operation] {
        SceneDiff.stamp(seq: seq, generatedAt: generatedAt)
    }

    private func json(displays: [WallLayout.Display]) -> JSONValue {
        var members: [String: JSONValue] = [:]
        for display in displays { members[display.id] = display.rect.json }
        return .object(members)
    }
}

extension SceneView {
    /// The operations that turn `previous`'s document into this one's, except `seq` and
    /// `generatedAt`; empty when nothing else changed.
    public func changes(since previous: SceneView) -> [JSONPatch.Operation] {
        changes(since: previous, unitOperations: nil)
    }

    /// ``changes(since:)`` with the unit operations already known: those of the scenes the two
    /// views come from, when both views show all of their scene's units (a map on the display).
    public func changes(since previous: SceneView, unitOperations: [JSONPatch.Operation]?) -> [JSONPatch.Operation] {
        var operations: [JSONPatch.Operation] = []
        if wall != previous.wall { operations.append(.replace(path: "/wall", value: .string(wall))) }
        if display.id != previous.display.id { operations.append(.replace(path: "/display", value: .string(display.id))) }
        if display.rect.width != previous.display.rect.width || display.rect.height != previous.display.rect.height {
            operations.append(
                .replace(
                    path: "/size",
                    value: .object(["width": .number(Double(display.rect.width)), "height": .number(Double(display.rect.height))])))
        }
        // A tile's `visible` rectangle depends on the display; compare tiles only when it is the same one.
        if display == previous.display {
            SceneDiff.members(from: previous.tiles, to: tiles, at: "/tiles", into: &operations, json: json(of:), shortcut: SceneDiff.reasonOnly)
        } else {
            var before: [String: JSONValue] = [:]
            for (id, tile) in previous.tiles { before[id] = previous.json(of: tile) }
            var after: [String: JSONValue] = [:]
            for (id, tile) in tiles { after[id] = json(of: tile) }
            JSONPatch.appendDiff(from: .object(before), to: .object(after), at: "/tiles", into: &operations)
        }
        SceneDiff.units(from: previous.units, to: units, known: unitOperations, into: &operations)
        SceneDiff.members(from: previous.incidents, to: incidents, at: "/incidents", into: &operations, json: \.json)
        if moved != previous.moved { operations.append(.replace(path: "/moved", value: .number(Double(moved)))) }
        return operations
    }

    /// The operations that write a new sequence number and this view's generation time.
    public func stampOperations(seq: UInt64) -> [JSONPatch.Operation] {
        SceneDiff.stamp(seq: seq, generatedAt: generatedAt)
    }
}

/// The shared parts of the typed scene diffs.
enum SceneDiff {
    static func stamp(seq: UInt64, generatedAt: Timestamp) -> [JSONPatch.Operation] {
        [.replace(path: "/seq", value: .number(Double(seq))), .replace(path: "/generatedAt", value: .string(generatedAt.rfc3339))]
    }

    /// Members of a keyed collection (tiles, incidents): a new key is an `add` of the whole
    /// value, a missing one a `remove`, a changed one the generic diff of the two small documents
    /// (unless `shortcut` writes the operations for that change itself and returns true).
    /// Keys that differ are visited in canonical order, so the patch is deterministic.
    static func members<Value: Equatable>(
        from old: [String: Value], to new: [String: Value], at path: String, into operations: inout [JSONPatch.Operation],
        json: (Value) -> JSONValue,
        shortcut: (_ before: Value, _ after: Value, _ path: String, _ operations: inout [JSONPatch.Operation]) -> Bool = { _, _, _, _ in false }
    ) {
        let keys = changedKeys(old, new)
        for key in keys {
            let memberPath = path + "/" + JSONPointer.escape(key)
            switch (old[key], new[key]) {
            case (let before?, let after?):
                if !shortcut(before, after, memberPath, &operations) {
                    JSONPatch.appendDiff(from: json(before), to: json(after), at: memberPath, into: &operations)
                }
            case (_?, nil): operations.append(.remove(path: memberPath))
            case (nil, let after?): operations.append(.add(path: memberPath, value: json(after)))
            case (nil, nil): break
            }
        }
    }

    /// A tile whose only change is its reason (an alarm's age moves on every second, on every
    /// tile showing one) is one `replace`, without building the two tiles' documents.
    static func reasonOnly(_ before: SceneTile, _ after: SceneTile, at path: String, into operations: inout [JSONPatch.Operation]) -> Bool {
        guard before.reason != after.reason else { return false }
        var sameButReason = before
        sameButReason.reason = after.reason
        guard sameButReason == after else { return false }
        operations.append(.replace(path: path + "/reason", value: .string(after.reason)))
        return true
    }

    /// Units, the members that change every round: a moved unit is a `replace` of each field
    /// that changed, written without building the unit's document.
    static func units(
        from old: [String: SceneUnit], to new: [String: SceneUnit], known: [JSONPatch.Operation]?, into operations: inout [JSONPatch.Operation]
    ) {
        if let known {
            operations.append(contentsOf: known)
            return
        }
        units(from: old, to: new, into: &operations)
    }

    static func units(from old: [String: SceneUnit], to new: [String: SceneUnit], into operations: inout [JSONPatch.Operation]) {
        units(from: old, to: new, keys: changedKeys(old, new), into: &operations)
    }

    static func units(
        from old: [String: SceneUnit], to new: [String: SceneUnit], keys: [String], into operations: inout some UnitPatchTarget
    ) {
        for key in keys {
            let path = "/units/" + JSONPointer.escape(key)
            switch (old[key], new[key]) {
            case (let before?, let after?): after.appendChanges(since: before, at: path, into: &operations)
            case (_?, nil): operations.remove(path: path, member: nil)
            case (nil, let after?): operations.add(path: path, member: nil, value: after.json)
            case (nil, nil): break
            }
        }
    }

    /// Keys added, removed or whose value changed, in canonical (bytewise UTF-8) order.
    static func changedKeys<Value: Equatable>(_ old: [String: Value], _ new: [String: Value]) -> [String] {
        var keys: [String] = []
        for (key, after) in new {
            if let before = old[key] {
                if before != after { keys.append(key) }
            } else {
                keys.append(key)
            }
        }
        if old.count + keys.count > new.count {
            // Some keys of `old` may be gone (counts alone cannot prove none are).
            for key in old.keys where new[key] == nil { keys.append(key) }
        }
        JSONValue.sortCanonically(&keys)
        return keys
    }
}

extension SceneUnit {
    /// The operations that turn the `units` member of a scene (or view) showing `old` into one
    /// showing `new`: per changed field of a moved unit, whole markers added and removed.
    ///
    /// - Parameter keys: the only markers that may differ, in canonical order, when they are
    ///   known (``LayoutState/unitChanges``): only those are compared. Nil compares them all.
    public static func changes(from old: [String: SceneUnit], to new: [String: SceneUnit], keys: [String]? = nil) -> [JSONPatch.Operation] {
        var operations: [JSONPatch.Operation] = []
        SceneDiff.units(from: old, to: new, keys: keys ?? SceneDiff.changedKeys(old, new), into: &operations)
        return operations
    }

    /// ``changes(from:to:keys:)`` written straight to their canonical text, without making the
    /// operations (what a wall round sends): the same bytes as encoding them.
    public static func encodedChanges(from old: [String: SceneUnit], to new: [String: SceneUnit], keys: [String]? = nil) -> JSONPatchText {
        var text = JSONPatchText()
        SceneDiff.units(from: old, to: new, keys: keys ?? SceneDiff.changedKeys(old, new), into: &text)
        return text
    }

    /// One operation per member of ``json`` that differs from `previous`, in canonical member order.
    func appendChanges(since previous: SceneUnit, at path: String, into operations: inout some UnitPatchTarget) {
        func optional(_ name: StaticString, _ before: JSONValue?, _ after: JSONValue?) {
            switch (before, after) {
            case (let old?, let new?): if old != new { operations.replace(path: path, member: name, value: new) }
            case (_?, nil): operations.remove(path: path, member: name)
            case (nil, let new?): operations.add(path: path, member: name, value: new)
            case (nil, nil): break
            }
        }
        if callsign != previous.callsign { optional("callsign", previous.callsign.map(JSONValue.string), callsign.map(JSONValue.string)) }
        if heading != previous.heading { optional("heading", previous.heading.map(JSONValue.number), heading.map(JSONValue.number)) }
        if kind != previous.kind { optional("kind", previous.kind.map(JSONValue.string), kind.map(JSONValue.string)) }
        if position.latitude != previous.position.latitude { operations.replace(path: path, member: "lat", value: .number(position.latitude)) }
        if position.longitude != previous.position.longitude { operations.replace(path: path, member: "lon", value: .number(position.longitude)) }
        if stale != previous.stale { operations.replace(path: path, member: "stale", value: .bool(stale)) }
        if status != previous.status { optional("status", previous.status.map(JSONValue.string), status.map(JSONValue.string)) }
        // RFC 3339 text keeps every microsecond: different times are different strings.
        if time != previous.time {
            operations.replace(path: path, member: "time", value: .string(time.rfc3339))
        }
    }
}

/// Where a diff of units puts its operations: made as values, or written as text at once
/// (``JSONPatchText``). `member`, when given, is the last segment of the path.
protocol UnitPatchTarget {
    mutating func add(path: String, member: StaticString?, value: JSONValue)
    mutating func remove(path: String, member: StaticString?)
    mutating func replace(path: String, member: StaticString?, value: JSONValue)
}

extension Array: UnitPatchTarget where Element == JSONPatch.Operation {
    private static func joined(_ path: String, _ member: StaticString?) -> String {
        guard let member else { return path }
        return path + "/" + member.description
    }
    mutating func add(path: String, member: StaticString?, value: JSONValue) { append(.add(path: Self.joined(path, member), value: value)) }
    mutating func remove(path: String, member: StaticString?) { append(.remove(path: Self.joined(path, member))) }
    mutating func replace(path: String, member: StaticString?, value: JSONValue) {
        append(.replace(path: Self.joined(path, member), value: value))
    }
}

extension JSONPatchText: UnitPatchTarget {}
