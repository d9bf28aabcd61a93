import HypervisionCore

/// Combines a run of patches into one net patch: applied to the document the first patch starts
/// from, it gives the document the last one ends at, with each value written once however
/// often it changed in between.
///
/// This is what makes a resume with `since` cheap. Concatenated, five seconds of a busy wall's
/// patches (every moving unit's `lat` and `lon` replaced at every round, `seq` and
/// `generatedAt` at every publish) are larger than the scene itself, so the hub used to answer
/// with a full scene although the patches were held; squashed, they are the net change, a
/// fraction of it.
///
/// The patches are the hub's own, made by diffs (``JSONPatch/diff(from:to:)`` and the typed
/// scene diff), which gives the rules their footing: `add` names a member that did not exist,
/// `replace` and `remove` one that did, and there are no `move`, `copy` or `test`. Operations
/// on object members squash by path: a later write of a member replaces earlier writes of it
/// and of anything inside it, and a write inside a member added or replaced earlier goes into
/// that value. Operations inside arrays (a path segment that is an index) keep their order,
/// grouped under the array's own path. Anything else (an unknown operation, a write inside a
/// removed member) gives up: the caller then concatenates, which is always correct.
public enum PatchSquash {
    /// One patch squashing `patches` (each the encoded JSON array of a patch, in order), encoded;
    /// nil when the patches do not follow the rules above.
    public static func squash(_ patches: some Sequence<[UInt8]>) -> [UInt8]? {
        var squash = Squash()
        for encoded in patches {
            guard let json = try? JSONValue(parsing: encoded), let patch = try? JSONPatch(json: json) else { return nil }
            for operation in patch.operations {
                guard squash.append(operation) else { return nil }
            }
        }
        return JSONPatch(operations: squash.operations).encodedBytes
    }

    /// The squash of operations already decoded; nil when they do not follow the rules.
    public static func squash(_ operations: [JSONPatch.Operation]) -> JSONPatch? {
        var squash = Squash()
        for operation in operations {
            guard squash.append(operation) else { return nil }
        }
        return JSONPatch(operations: squash.operations)
    }

    /// What has happened to one member (or one array) of the base document.
    private struct Group {
        /// The member's escaped pointer.
        let key: String
        /// Whether the member existed in the base document.
        let existedAtBase: Bool
        /// The member's net write: `add`/`replace` with its value, `remove`, or nil (no net
        /// write: created and removed again, or only changed inside an array).
        var write: JSONPatch.Operation?
        /// Operations inside the array at `key`, in order (only when `write` is nil).
        var arrayOperations: [JSONPatch.Operation] = []
    }

    private struct Squash {
        /// Groups in order of first appearance; nil where a group was dropped.
        private var groups: [Group?] = []
        private var index: [String: Int] = [:]
        /// How many live groups lie strictly below each key: only keys with descendants are
        /// scanned when an outer write replaces what is inside.
        private var descendants: [String: Int] = [:]

        var operations: [JSONPatch.Operation] {
            var result: [JSONPatch.Operation] = []
            for case let group? in groups {
                if let write = group.write { result.append(write) }
                result.append(contentsOf: group.arrayOperations)
            }
            return result
        }

        /// Folds one operation in; false when it does not follow the rules.
        mutating func append(_ operation: JSONPatch.Operation) -> Bool {
            let path: String
            switch operation {
            case .add(let p, _), .replace(let p, _), .remove(let p): path = p
            case .move, .copy, .test: return false
            }
            guard path.isEmpty || path.hasPrefix("/") else { return false }
            let tokens = path.isEmpty ? [] : path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
            // Inside an array: the key is the array's path, and order matters from there on.
            let arrayAt = tokens.firstIndex { $0 == "-" || (!$0.isEmpty && $0.allSatisfy(\.isASCIIDigit)) }
            let keyTokens = arrayAt.map { tokens[..<$0] } ?? tokens[...]
            let key = keyTokens.isEmpty ? "" : "/" + keyTokens.joined(separator: "/")

            // Inside something written earlier: into that value (or the array's own list).
            if let i = enclosingGroup(of: keyTokens, includingSelf: arrayAt != nil) {
                let group = groups[i]!
                if group.key == key, group.write == nil {
                    // The array's own group; none at all means it was added and removed again.
                    guard !group.arrayOperations.isEmpty else { return false }
                    groups[i]!.arrayOperations.append(operation)
                    return true
                }
                return fold(operation, into: i)
            }
            if arrayAt != nil {
                insert(Group(key: key, existedAtBase: true, write: nil, arrayOperations: [operation]))
                return true
            }

            // A write of the member itself: it replaces whatever happened to it and inside it.
            let existedAtBase: Bool
            if let i = index[key] {
                existedAtBase = groups[i]!.existedAtBase
                remove(at: i)
                _ = dropDescendants(of: key)
            } else if dropDescendants(of: key) {
                existedAtBase = true  // something inside it changed: it was there
            } else if case .add = operation {
                existedAtBase = false  // the patches are diffs: `add` names a new member
            } else {
                existedAtBase = true
            }
            let write: JSONPatch.Operation?
            switch operation {
            case .add(_, let value), .replace(_, let value):
                write = existedAtBase ? .replace(path: key, value: value) : .add(path: key, value: value)
            case .remove:
                write = existedAtBase ? .remove(path: key) : nil
            default:
                return false
            }
            insert(Group(key: key, existedAtBase: existedAtBase, write: write))
            return true
        }

        /// The group of the nearest member that encloses `tokens` (strictly, or including the
        /// member itself when asked): later writes inside a written member go into its value.
        private func enclosingGroup(of tokens: ArraySlice<Substring>, includingSelf: Bool) -> Int? {
            var path = ""
            for length in 0..<(includingSelf ? tokens.count + 1 : tokens.count) {
                if length > 0 { path += "/" + tokens[tokens.startIndex + length - 1] }
                if let i = index[path] { return i }
            }
            return nil
        }

        /// Applies `operation` to the value the group writes, at the path relative to it.
        private mutating func fold(_ operation: JSONPatch.Operation, into i: Int) -> Bool {
            guard let group = groups[i], let write = group.write else { return false }
            let value: JSONValue
            switch write {
            case .add(_, let v), .replace(_, let v): value = v
            default: return false  // a write inside a removed member
            }
            let relative = String(operation.path.dropFirst(group.key.count))
            let inner: JSONPatch.Operation
            switch operation {
            case .add(_, let v): inner = .add(path: relative, value: v)
            case .replace(_, let v): inner = .replace(path: relative, value: v)
            case .remove: inner = .remove(path: relative)
            default: return false
            }
            guard let updated = try? JSONPatch(operations: [inner]).applied(to: value) else { return false }
            switch write {
            case .add: groups[i]!.write = .add(path: group.key, value: updated)
            default: groups[i]!.write = .replace(path: group.key, value: updated)
            }
            return true
        }

        private mutating func insert(_ group: Group) {
            index[group.key] = groups.count
            groups.append(group)
            forEachAncestor(of: group.key) { descendants[$0, default: 0] += 1 }
        }

        private mutating func remove(at i: Int) {
            guard let group = groups[i] else { return }
            groups[i] = nil
            index[group.key] = nil
            forEachAncestor(of: group.key) { key in
                let left = (descendants[key] ?? 1) - 1
                descendants[key] = left > 0 ? left : nil
            }
        }

        /// Drops every group strictly inside `key` (a write of `key` replaces them); true when
        /// there was any.
        private mutating func dropDescendants(of key: String) -> Bool {
            guard descendants[key] != nil else { return false }
            let inside = key + "/"
            for i in groups.indices {
                if let group = groups[i], group.key.hasPrefix(inside) { remove(at: i) }
            }
            return true
        }

        /// Calls `body` with every strict ancestor of `key` ("" for the root included).
        private func forEachAncestor(of key: String, _ body: (String) -> Void) {
            guard !key.isEmpty else { return }
            body("")
            var end = key.index(after: key.startIndex)
            while let slash = key[end...].firstIndex(of: "/") {
                body(String(key[..<slash]))
                end = key.index(after: slash)
            }
        }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { self >= "0" && self <= "9" }
}
