import HypervisionCore

/// Parses `LAT,LON` as typed by an operator (`48.8566,2.3522`, spaces allowed after the comma).
///
/// The message names the whole argument and the part that is wrong, so that
/// `95,0` reads "LAT,LON expected, got 95,0: latitude 95 is outside [-90, 90]".
public func parsePoint(_ text: String) throws(Failure) -> GeoPoint {
    let trimmed = text.trimmed
    let parts = trimmed.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmed }
    func fail(_ reason: String) -> Failure { .usage("LAT,LON expected, got \(trimmed.isEmpty ? "nothing" : trimmed): \(reason)") }
    guard parts.count == 2 else {
        throw fail(parts.count < 2 ? "a comma must separate latitude and longitude" : "\(parts.count) numbers instead of 2")
    }
    let latitude = try number(parts[0], named: "latitude", fail)
    let longitude = try number(parts[1], named: "longitude", fail)
    guard (-90.0...90.0).contains(latitude) else { throw fail("latitude \(parts[0]) is outside [-90, 90]") }
    guard (-180.0...180.0).contains(longitude) else { throw fail("longitude \(parts[1]) is outside [-180, 180]") }
    return GeoPoint(latitude: latitude, longitude: longitude)
}

extension BoundingBox {
    /// The query value: `W,S,E,N` with the numbers as the command line writes coordinates.
    public var queryValue: String { [west, south, east, north].map(formatCoordinate).joined(separator: ",") }
}

/// Parses `W,S,E,N` (west, south, east, north in degrees), checking ranges and order. `west` may
/// exceed `east`: the box then crosses the antimeridian, as the daemon understands it.
public func parseBox(_ text: String) throws(Failure) -> BoundingBox {
    let trimmed = text.trimmed
    let parts = trimmed.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmed }
    func fail(_ reason: String) -> Failure { .usage("W,S,E,N expected, got \(trimmed.isEmpty ? "nothing" : trimmed): \(reason)") }
    guard parts.count == 4 else { throw fail("\(parts.count) number\(parts.count == 1 ? "" : "s") instead of 4") }
    let west = try number(parts[0], named: "west", fail)
    let south = try number(parts[1], named: "south", fail)
    let east = try number(parts[2], named: "east", fail)
    let north = try number(parts[3], named: "north", fail)
    for (value, text, name) in [(west, parts[0], "west"), (east, parts[2], "east")] where !(-180.0...180.0).contains(value) {
        throw fail("\(name) \(text) is outside [-180, 180]")
    }
    for (value, text, name) in [(south, parts[1], "south"), (north, parts[3], "north")] where !(-90.0...90.0).contains(value) {
        throw fail("\(name) \(text) is outside [-90, 90]")
    }
    guard south < north else { throw fail("south \(parts[1]) must be less than north \(parts[3])") }
    guard west != east else { throw fail("west and east are both \(parts[0]): the box has no width") }
    // The checks above are the command line's own (stricter, with its messages): what passes
    // them is a valid box.
    return BoundingBox(trustedWest: west, south: south, east: east, north: north)
}

/// Coordinates in query strings: the shortest text that reads back to the same number.
func formatCoordinate(_ value: Double) -> String {
    if let integer = Int(exactly: value) { return String(integer) }
    return String(value)
}

private func number(_ text: String, named name: String, _ fail: (String) -> Failure) throws(Failure) -> Double {
    guard !text.isEmpty else { throw fail("\(name) is missing") }
    // Double("nan"), Double("inf") and hexadecimal floats parse; none is a coordinate.
    guard text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "." || $0 == "-" || $0 == "+" || $0 == "e" || $0 == "E") }),
        let value = Double(text), value.isFinite
    else { throw fail("\(name) \(text) is not a number") }
    return value
}

extension String {
    var trimmed: String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}
