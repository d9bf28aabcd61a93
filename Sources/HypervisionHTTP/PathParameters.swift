import Hummingbird
import HypervisionCore

/// The `:id` of a camera or incident path when it can name one: ids follow the unit id alphabet
/// (``UnitID``), so anything else (a percent-encoded NUL, 10 kB of text) is answered 404 at once
/// instead of being sent to PostgreSQL, which refuses NUL in text.
func pathID(_ context: some RequestContext) -> String? {
    guard let text = context.parameters.get("id"), let id = try? UnitID(text) else { return nil }
    return id.rawValue
}

/// The path's `:id` for a message: shortened, and its control characters made visible.
func describePathID(_ context: some RequestContext) -> String {
    let text = context.parameters.get("id") ?? ""
    return String(String.UnicodeScalarView(text.unicodeScalars.prefix(64).map { InputText.isClean(String($0)) ? $0 : "?" }))
}
