/// A table of text with aligned columns, as `ps` and `kubectl get` print them: a header line in
/// capitals, then one line per row, columns separated by two spaces, no trailing spaces.
public struct TextTable: Sendable, Hashable {
    public enum Alignment: Sendable, Hashable { case left, right }

    public struct Column: Sendable, Hashable {
        public var title: String
        public var alignment: Alignment
        public init(_ title: String, _ alignment: Alignment = .left) {
            self.title = title
            self.alignment = alignment
        }
    }

    public var columns: [Column]
    public var rows: [[String]] = []

    public init(_ columns: [Column]) { self.columns = columns }

    public mutating func append(_ row: [String]) {
        precondition(row.count == columns.count, "a row has \(row.count) cells for \(columns.count) columns")
        rows.append(row)
    }

    /// Drops columns whose cells are all empty (e.g. DIST when no point was given).
    public func droppingEmptyColumns() -> TextTable {
        let keep = columns.indices.filter { index in rows.contains { !$0[index].isEmpty } }
        var table = TextTable(keep.map { columns[$0] })
        table.rows = rows.map { row in keep.map { row[$0] } }
        return table
    }

    /// The lines of the table, ending with a newline.
    public func render() -> String {
        let widths = columns.indices.map { index in
            ([columns[index].title] + rows.map { $0[index] }).map(displayWidth).max() ?? 0
        }
        var out = ""
        for line in [columns.map(\.title)] + rows {
            var text = ""
            for (index, cell) in line.enumerated() {
                let padding = String(repeating: " ", count: widths[index] - displayWidth(cell))
                if index > 0 { text += "  " }
                text += columns[index].alignment == .right ? padding + cell : cell + padding
            }
            while text.last == " " { text.removeLast() }
            out += text + "\n"
        }
        return out
    }
}

/// The number of terminal cells a cell's text takes: one per character, two for East Asian wide
/// and emoji presentation characters. Good enough for callsigns, place names and the ° sign.
func displayWidth(_ text: String) -> Int {
    var width = 0
    for character in text {
        guard let scalar = character.unicodeScalars.first else { continue }
        let value = scalar.value
        let wide = (0x1100...0x115F).contains(value) || (0x2E80...0xA4CF).contains(value)
            || (0xAC00...0xD7A3).contains(value) || (0xF900...0xFAFF).contains(value)
            || (0xFE30...0xFE4F).contains(value) || (0xFF00...0xFF60).contains(value)
            || (0xFFE0...0xFFE6).contains(value) || (0x1F300...0x1FAFF).contains(value)
        width += wide ? 2 : 1
    }
    return width
}

/// Key and value lines for one object (`units get`): keys padded to one width.
public func keyValueLines(_ pairs: [(String, String)]) -> String {
    let present = pairs.filter { !$0.1.isEmpty }
    let width = present.map { displayWidth($0.0) }.max() ?? 0
    return present.map { key, value in
        key + String(repeating: " ", count: width - displayWidth(key)) + "  " + value
    }.joined(separator: "\n") + (present.isEmpty ? "" : "\n")
}
