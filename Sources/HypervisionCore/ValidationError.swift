/// Why an input was refused: a stable machine-readable ``Code`` and a message for people.
///
/// Codes appear verbatim in ingest answers (`{"index":3,"code":"lat_out_of_range",…}`), so they
/// never change once published; add new ones instead.
public struct ValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable error code, written in snake case on the wire.
    public struct Code: Sendable, Hashable, RawRepresentable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let unitIDInvalid = Code(rawValue: "unit_id_invalid")
        public static let latOutOfRange = Code(rawValue: "lat_out_of_range")
        public static let lonOutOfRange = Code(rawValue: "lon_out_of_range")
        public static let notFinite = Code(rawValue: "not_finite")
        public static let timeInvalid = Code(rawValue: "time_invalid")
        public static let timeInFuture = Code(rawValue: "time_in_future")
        public static let timeTooOld = Code(rawValue: "time_too_old")
        public static let speedOutOfRange = Code(rawValue: "speed_out_of_range")
        public static let headingOutOfRange = Code(rawValue: "heading_out_of_range")
        public static let accuracyOutOfRange = Code(rawValue: "accuracy_out_of_range")
        public static let altitudeOutOfRange = Code(rawValue: "altitude_out_of_range")
        public static let batteryOutOfRange = Code(rawValue: "battery_out_of_range")
        public static let statusInvalid = Code(rawValue: "status_invalid")
        public static let fieldMissing = Code(rawValue: "field_missing")
        public static let valueInvalid = Code(rawValue: "value_invalid")
        /// The bytes are not well-formed JSON (syntax, UTF-8, escapes).
        public static let jsonInvalid = Code(rawValue: "json_invalid")
        /// A known field holds a JSON value of the wrong type (a string where a number belongs).
        public static let fieldTypeInvalid = Code(rawValue: "field_type_invalid")
        /// An item (or the whole body) is valid JSON but not an object where a ping object belongs.
        public static let notAnObject = Code(rawValue: "not_an_object")
        /// A stored string is longer than the decoder's limit.
        public static let stringTooLong = Code(rawValue: "string_too_long")
        /// Objects and arrays are nested deeper than the decoder's limit.
        public static let nestingTooDeep = Code(rawValue: "nesting_too_deep")
        /// A body holds more items than one request may carry.
        public static let tooManyItems = Code(rawValue: "too_many_items")
        /// A query string or form body holds more parameters than one request may carry.
        public static let tooManyParameters = Code(rawValue: "too_many_parameters")
        /// A sentence's checksum is missing, malformed, or does not match its content (NMEA `*hh`).
        public static let checksumInvalid = Code(rawValue: "checksum_invalid")
        /// The receiver itself says the position is not a valid fix (NMEA RMC status `V`, mode `N`).
        public static let fixInvalid = Code(rawValue: "fix_invalid")
        /// The bytes are not well-formed XML (syntax, UTF-8, characters, references, a truncated event).
        public static let xmlInvalid = Code(rawValue: "xml_invalid")
        /// Well-formed XML that uses what is refused for safety: a DOCTYPE or other markup
        /// declaration (they can define entities) or a reference to an entity that is not predefined.
        public static let xmlForbidden = Code(rawValue: "xml_forbidden")
        /// Well-formed XML whose root element is not a Cursor-on-Target `<event>`.
        public static let notAnEvent = Code(rawValue: "not_an_event")
        /// One Cursor-on-Target event is larger than the decoder's or framer's limit.
        public static let eventTooLarge = Code(rawValue: "event_too_large")
        /// An XML element has more attributes than the decoder's limit.
        public static let tooManyAttributes = Code(rawValue: "too_many_attributes")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
