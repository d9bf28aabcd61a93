import HypervisionCore

extension WallDefinition {
    /// Reads a wall definition from its JSON form (YAML files are converted to the same JSON).
    ///
    /// ```json
    /// {"id": "cic-paris", "title": "CIC Paris",
    ///  "displays": {"rows": 2, "columns": 3,
    ///               "default": {"width": 3840, "height": 2160, "widthMm": 1209.6, "heightMm": 680.4, "bezelMm": 1.75},
    ///               "overrides": {"r1c2": {"bezelMm": {"top": 1.75, "right": 6, "bottom": 6, "left": 1.75}}}},
    ///  "regions": [
    ///    {"id": "map", "area": {"row": 0, "column": 0, "rows": 2}, "kind": "map",
    ///     "viewport": {"west": 2.25, "south": 48.81, "east": 2.42, "north": 48.91},
    ///     "fit": {"include": ["incidents", "emergencies"], "paddingMetres": 200, "minimumSpanMetres": 1000}},
    ///    {"id": "cams", "area": {"row": 0, "column": 1, "rows": 2, "columns": 2}, "kind": "cameras",
    ///     "preset": "1+7", "sources": ["cam-0001", "cam-0002"]},
    ///    {"id": "dash", "area": {"row": 0, "column": 3}, "kind": "web", "url": "https://grafana.local/d/cic"}],
    ///  "tuning": {"minimumDwellSeconds": 20}}
    /// ```
    ///
    /// Every structural problem (missing field, wrong type, unknown field or preset) is collected
    /// and thrown together; the semantic checks run in ``compile()``.
    public init(json: JSONValue) throws(WallDefinitionError) {
        var reader = FieldReader()
        guard case .object(let root) = json else {
            throw WallDefinitionError(problems: [WallProblem(.fieldTypeInvalid, "", "a wall definition is a JSON object")])
        }
        reader.rejectUnknown(root, allowed: ["id", "title", "displays", "regions", "tuning"], path: "")
        let id = reader.string(root, "id", path: "") ?? ""
        let title = reader.string(root, "title", path: "", required: false) ?? id

        var rows = 0, columns = 0
        var displays: [DisplaySpec] = []
        if let grid = reader.object(root, "displays", path: "") {
            reader.rejectUnknown(grid, allowed: ["rows", "columns", "default", "overrides"], path: "/displays")
            rows = reader.integer(grid, "rows", path: "/displays") ?? 0
            columns = reader.integer(grid, "columns", path: "/displays") ?? 0
            let base = reader.object(grid, "default", path: "/displays").flatMap {
                reader.display($0, base: nil, path: "/displays/default")
            }
            let overrides = reader.object(grid, "overrides", path: "/displays", required: false) ?? [:]
            if let base, (1...WallLimits.maximumSide).contains(rows), (1...WallLimits.maximumSide).contains(columns) {
                displays = Array(repeating: base, count: rows * columns)
                for key in overrides.keys.sorted() {
                    let path = "/displays/overrides/" + escapePointer(key)
                    guard let (row, column) = parseDisplayID(key), row < rows, column < columns else {
                        reader.problem(.valueInvalid, path, "\(key.prefix(32)) is not a display of this \(rows)x\(columns) wall (ids are r{row}c{column}, from r0c0)")
                        continue
                    }
                    guard case .object(let fields) = overrides[key] else {
                        reader.problem(.fieldTypeInvalid, path, "a display override is an object")
                        continue
                    }
                    if let display = reader.display(fields, base: base, path: path) {
                        displays[row * columns + column] = display
                    }
                }
            }
        }

        var regions: [Region] = []
        if let list = reader.array(root, "regions", path: "") {
            if list.count > WallLimits.maximumRegions {
                reader.problem(.valueInvalid, "/regions", "a wall has at most \(WallLimits.maximumRegions) regions, found \(list.count)")
            } else {
                for (index, item) in list.enumerated() {
                    if let region = reader.region(item, path: "/regions/\(index)") { regions.append(region) }
                }
            }
        }
        var tuning = LayoutTuning()
        if let fields = reader.object(root, "tuning", path: "", required: false) {
            reader.rejectUnknown(
                fields,
                allowed: ["replacementMargin", "minimumDwellSeconds", "urgentPriority", "offlineGraceSeconds", "eventHalfLifeSeconds", "unitStaleSeconds"],
                path: "/tuning")
            func read(_ key: String, _ target: inout Double) {
                if let value = reader.number(fields, key, path: "/tuning", required: false) { target = value }
            }
            read("replacementMargin", &tuning.replacementMargin)
            read("minimumDwellSeconds", &tuning.minimumDwellSeconds)
            read("urgentPriority", &tuning.urgentPriority)
            read("offlineGraceSeconds", &tuning.offlineGraceSeconds)
            read("eventHalfLifeSeconds", &tuning.eventHalfLifeSeconds)
            read("unitStaleSeconds", &tuning.unitStaleSeconds)
        }
        guard reader.problems.isEmpty else { throw WallDefinitionError(problems: reader.problems) }
        self.init(id: id, title: title, rows: rows, columns: columns, displays: displays, regions: regions, tuning: tuning)
    }

    /// Decodes and compiles in one step, for `PUT /api/v1/walls/{id}` and configuration files.
    public static func compile(json: JSONValue) throws(WallDefinitionError) -> WallLayout {
        try WallDefinition(json: json).compile()
    }
}

/// `r12c3` → (12, 3).
func parseDisplayID(_ text: String) -> (Int, Int)? {
    let bytes = Array(text.utf8)
    guard bytes.first == UInt8(ascii: "r"), let c = bytes.firstIndex(of: UInt8(ascii: "c")), c > 1, c < bytes.count - 1,
        bytes.count <= 8
    else { return nil }
    guard let row = Int(String(decoding: bytes[1..<c], as: UTF8.self)),
        let column = Int(String(decoding: bytes[(c + 1)...], as: UTF8.self)), row >= 0, column >= 0
    else { return nil }
    guard WallDefinition.displayID(row: row, column: column) == text else { return nil }  // no "r01c1" aliases
    return (row, column)
}

/// RFC 6901 escaping of one reference token.
func escapePointer(_ token: String) -> String {
    token.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard contains(target) else { return self }
        return split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

/// Reads typed fields out of JSON objects and remembers every problem instead of stopping.
private struct FieldReader {
    var problems: [WallProblem] = []

    mutating func problem(_ code: WallProblem.Code, _ path: String, _ message: String) {
        problems.append(WallProblem(code, path, message))
    }

    mutating func rejectUnknown(_ object: [String: JSONValue], allowed: Set<String>, path: String) {
        for key in object.keys.sorted() where !allowed.contains(key) {
            problem(.fieldUnknown, path + "/" + escapePointer(key), "unknown field \(key.prefix(64)); expected one of \(allowed.sorted().joined(separator: ", "))")
        }
    }

    private mutating func value(_ object: [String: JSONValue], _ key: String, path: String, required: Bool) -> JSONValue? {
        guard let value = object[key], value != .null else {
            if required { problem(.fieldMissing, path + "/" + key, "\(key) is required") }
            return nil
        }
        return value
    }

    mutating func string(_ object: [String: JSONValue], _ key: String, path: String, required: Bool = true) -> String? {
        guard let value = value(object, key, path: path, required: required) else { return nil }
        guard case .string(let text) = value else {
            problem(.fieldTypeInvalid, path + "/" + key, "\(key) must be a string")
            return nil
        }
        return text
    }

    mutating func number(_ object: [String: JSONValue], _ key: String, path: String, required: Bool = true) -> Double? {
        guard let value = value(object, key, path: path, required: required) else { return nil }
        guard case .number(let number) = value, number.isFinite else {
            problem(.fieldTypeInvalid, path + "/" + key, "\(key) must be a number")
            return nil
        }
        return number
    }

    mutating func integer(_ object: [String: JSONValue], _ key: String, path: String, required: Bool = true) -> Int? {
        guard let number = number(object, key, path: path, required: required) else { return nil }
        guard number == number.rounded(), abs(number) < 1e9 else {
            problem(.fieldTypeInvalid, path + "/" + key, "\(key) must be a whole number")
            return nil
        }
        return Int(number)
    }

    mutating func bool(_ object: [String: JSONValue], _ key: String, path: String) -> Bool? {
        guard let value = value(object, key, path: path, required: false) else { return nil }
        guard case .bool(let flag) = value else {
            problem(.fieldTypeInvalid, path + "/" + key, "\(key) must be true or false")
            return nil
        }
        return flag
    }

    mutating func object(_ object: [String: JSONValue], _ key: String, path: String, required: Bool = true) -> [String: JSONValue]? {
        guard let value = value(object, key, path: path, required: required) else { return nil }
        guard case .object(let fields) = value else {
            problem(.fieldTypeInvalid, path + "/" + key, "\(key) must be an object")
            return nil
        }
        return fields
    }

    mutating func array(_ object: [String: JSONValue], _ key: String, path: String, required: Bool = true) -> [JSONValue]? {
        guard let value = value(object, key, path: path, required: required) else { return nil }
        guard case .array(let items) = value else {
            problem(.fieldTypeInvalid, path + "/" + key, "\(key) must be an array")
            return nil
        }
        return items
    }

    mutating func strings(_ object: [String: JSONValue], _ key: String, path: String) -> [String] {
        guard let items = array(object, key, path: path, required: false) else { return [] }
        if items.count > WallLimits.maximumSources {
            problem(.tooManySources, path + "/" + key, "\(key) lists \(items.count) entries; at most \(WallLimits.maximumSources)")
            return []
        }
        var out: [String] = []
        for (index, item) in items.enumerated() {
            guard case .string(let text) = item else {
                problem(.fieldTypeInvalid, path + "/\(key)/\(index)", "\(key)[\(index)] must be a string")
                continue
            }
            out.append(text)
        }
        return out
    }

    /// A display description; with `base`, every field is optional and defaults to the base's.
    mutating func display(_ fields: [String: JSONValue], base: DisplaySpec?, path: String) -> DisplaySpec? {
        rejectUnknown(fields, allowed: ["width", "height", "widthMm", "heightMm", "bezelMm"], path: path)
        let required = base == nil
        let before = problems.count
        let width = integer(fields, "width", path: path, required: required) ?? base?.pixelWidth ?? 0
        let height = integer(fields, "height", path: path, required: required) ?? base?.pixelHeight ?? 0
        let widthMm = number(fields, "widthMm", path: path, required: required) ?? base?.widthMillimetres ?? 0
        let heightMm = number(fields, "heightMm", path: path, required: required) ?? base?.heightMillimetres ?? 0
        var bezel = base?.bezel ?? Bezel(all: 0)
        switch fields["bezelMm"] {
        case nil, .null?:
            break
        case .number(let width)?:
            bezel = Bezel(all: width)
        case .object(let sides)?:
            rejectUnknown(sides, allowed: ["top", "right", "bottom", "left"], path: path + "/bezelMm")
            bezel = Bezel(
                top: number(sides, "top", path: path + "/bezelMm") ?? 0,
                right: number(sides, "right", path: path + "/bezelMm") ?? 0,
                bottom: number(sides, "bottom", path: path + "/bezelMm") ?? 0,
                left: number(sides, "left", path: path + "/bezelMm") ?? 0)
        default:
            problem(.fieldTypeInvalid, path + "/bezelMm", "bezelMm must be a number (every side) or an object with top, right, bottom and left")
        }
        guard problems.count == before else { return nil }
        return DisplaySpec(pixelWidth: width, pixelHeight: height, widthMillimetres: widthMm, heightMillimetres: heightMm, bezel: bezel)
    }

    mutating func region(_ item: JSONValue, path: String) -> Region? {
        guard case .object(let fields) = item else {
            problem(.fieldTypeInvalid, path, "a region is an object")
            return nil
        }
        let before = problems.count
        let id = string(fields, "id", path: path) ?? ""
        var area = CellRange(row: 0, column: 0)
        if let areaFields = object(fields, "area", path: path) {
            rejectUnknown(areaFields, allowed: ["row", "column", "rows", "columns"], path: path + "/area")
            area = CellRange(
                row: integer(areaFields, "row", path: path + "/area") ?? 0,
                column: integer(areaFields, "column", path: path + "/area") ?? 0,
                rows: integer(areaFields, "rows", path: path + "/area", required: false) ?? 1,
                columns: integer(areaFields, "columns", path: path + "/area", required: false) ?? 1)
        }
        let common: Set<String> = ["id", "area", "kind"]
        var content: RegionContent?
        switch string(fields, "kind", path: path) {
        case "preset"?, "cameras"?:
            let isFixed = fields["kind"] == .string("preset")
            rejectUnknown(fields, allowed: common.union(["preset", "perDisplay", "sources"]), path: path)
            let preset = preset(fields, path: path)
            let perDisplay = bool(fields, "perDisplay", path: path) ?? false
            let sources = strings(fields, "sources", path: path)
            if let preset {
                let placement = PresetPlacement(preset, perDisplay: perDisplay)
                content = isFixed ? .preset(placement, sources: sources) : .cameras(placement, defaults: sources)
            }
        case "map"?:
            rejectUnknown(fields, allowed: common.union(["viewport", "fit"]), path: path)
            var policy = MapViewportPolicy(fixed: nil)
            if let box = object(fields, "viewport", path: path, required: false) {
                rejectUnknown(box, allowed: ["west", "south", "east", "north"], path: path + "/viewport")
                policy.fixed = BoundingBox(trustedWest: number(box, "west", path: path + "/viewport") ?? 0,
                    south: number(box, "south", path: path + "/viewport") ?? 0,
                    east: number(box, "east", path: path + "/viewport") ?? 0,
                    north: number(box, "north", path: path + "/viewport") ?? 0)
            }
            if let fit = object(fields, "fit", path: path, required: false) {
                rejectUnknown(fit, allowed: ["include", "paddingMetres", "minimumSpanMetres"], path: path + "/fit")
                for (index, name) in strings(fit, "include", path: path + "/fit").enumerated() {
                    guard let interest = MapViewportPolicy.Interest(rawValue: name) else {
                        problem(.valueInvalid, path + "/fit/include/\(index)", "\(name.prefix(32)) is not one of incidents, emergencies, units")
                        continue
                    }
                    if !policy.fit.contains(interest) { policy.fit.append(interest) }
                }
                if policy.fit.isEmpty { problem(.fieldMissing, path + "/fit/include", "include must name at least one of incidents, emergencies, units") }
                policy.paddingMetres = number(fit, "paddingMetres", path: path + "/fit", required: false) ?? policy.paddingMetres
                policy.minimumSpanMetres = number(fit, "minimumSpanMetres", path: path + "/fit", required: false) ?? policy.minimumSpanMetres
            }
            content = .map(policy)
        case "incidents"?:
            rejectUnknown(fields, allowed: common, path: path)
            content = .incidents
        case "web"?:
            rejectUnknown(fields, allowed: common.union(["url"]), path: path)
            content = string(fields, "url", path: path).map { .web(url: $0) }
        case let other?:
            problem(.valueInvalid, path + "/kind", "kind \(other.prefix(32)) is not one of preset, cameras, map, incidents, web")
        case nil:
            break
        }
        guard problems.count == before, let content else { return nil }
        return Region(id: id, area: area, content: content)
    }

    mutating func preset(_ fields: [String: JSONValue], path: String) -> Preset? {
        switch fields["preset"] {
        case .string(let name)?:
            guard let preset = Preset(name: name) else {
                problem(.presetUnknown, path + "/preset", "unknown preset \(name.prefix(32)); known presets: \(Preset.names.joined(separator: ", ")), or {\"custom\": {...}} for other grids")
                return nil
            }
            return preset
        case .object(let object)?:
            guard let custom = self.object(object, "custom", path: path + "/preset") else { return nil }
            rejectUnknown(object, allowed: ["custom"], path: path + "/preset")
            let customPath = path + "/preset/custom"
            rejectUnknown(custom, allowed: ["rows", "columns", "spans"], path: customPath)
            let rows = integer(custom, "rows", path: customPath) ?? 0
            let columns = integer(custom, "columns", path: customPath) ?? 0
            var spans: [CellRange] = []
            let items = array(custom, "spans", path: customPath, required: false) ?? []
            if items.count > Preset.maximumCustomSide * Preset.maximumCustomSide {
                problem(.presetInvalid, customPath + "/spans", "too many spans")
                return nil
            }
            for (index, item) in items.enumerated() {
                let spanPath = customPath + "/spans/\(index)"
                guard case .object(let span) = item else {
                    problem(.fieldTypeInvalid, spanPath, "a span is an object with row, column, rows and columns")
                    continue
                }
                rejectUnknown(span, allowed: ["row", "column", "rows", "columns"], path: spanPath)
                spans.append(
                    CellRange(
                        row: integer(span, "row", path: spanPath) ?? 0, column: integer(span, "column", path: spanPath) ?? 0,
                        rows: integer(span, "rows", path: spanPath, required: false) ?? 1,
                        columns: integer(span, "columns", path: spanPath, required: false) ?? 1))
            }
            return .custom(rows: rows, columns: columns, spans: spans)
        case nil, .null?:
            problem(.fieldMissing, path + "/preset", "preset is required")
            return nil
        default:
            problem(.fieldTypeInvalid, path + "/preset", "preset must be a preset name or {\"custom\": {\"rows\": R, \"columns\": C, \"spans\": [...]}}")
            return nil
        }
    }
}
