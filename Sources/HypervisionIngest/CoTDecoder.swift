import HypervisionCore

/// One CoT event decoded: the ping plus what CoT adds.
public struct CoTEvent: Sendable, Equatable {
    /// The position report as written: `event@uid` is the unit, `event@time` (else `@start`) the
    /// time, `point` the position, `detail/track` speed and course, `detail/status` the battery.
    /// Fields CoT marks as unknown (`9999999`) are nil.
    public var ping: RawPing
    /// `detail/contact@callsign`: the name people know the unit by (`"BAC 12"`).
    public var callsign: String?
    /// `event@type`, the CoT type such as `a-f-G-U-C` (atom, friendly, ground unit, combat).
    public var type: String?
    /// `event@stale`, the RFC 3339 time after which the sender says the position is stale.
    public var stale: String?

    public init(ping: RawPing, callsign: String? = nil, type: String? = nil, stale: String? = nil) {
        self.ping = ping
        self.callsign = callsign
        self.type = type
        self.stale = stale
    }
}

/// Decodes Cursor-on-Target XML events.
///
/// CoT (the TAK protocol's XML form) is what ATAK, WinTAK and iTAK send: one `<event>` per UDP
/// datagram, or events back to back on a TCP stream (split them with ``CoTFramer``). Only
/// position events matter here, so the decoder reads the handful of attributes a ping needs and
/// checks, then skips, everything else, however it is nested.
///
/// The XML is read by a hand-written scanner (see `XMLScanner`), not Foundation's `XMLParser`:
/// libxml2 expands entities and reads DTDs, and its per-document cost is out of proportion to a
/// 400-byte event. The scanner is strict XML 1.0 and refuses outright, with
/// ``ValidationError/Code/xmlForbidden``, what a DTD could make mean something else: any
/// `<!DOCTYPE`, `<!ENTITY` or other markup declaration, and any entity reference other than
/// `&lt; &gt; &amp; &quot; &apos;` and character references. CDATA sections are allowed and
/// skipped (they cannot hold references, and nothing a ping needs is in text).
///
/// Like ``JSONPingDecoder`` it reports the ping as the sender wrote it (``RawPing``) and leaves
/// ranges to ``PingValidator``. It does require what makes the event a position at all — a
/// `point` with `lat` and `lon` — because only it can name the missing CoT element; a missing
/// `uid` or time is left nil for the validator to refuse.
public struct CoTDecoder: Sendable {
    /// Bounds on the work one event can cause. Together they cap memory, time and stack use
    /// whatever a hostile sender writes.
    public struct Limits: Sendable, Equatable {
        /// The largest event, in bytes. A UDP datagram is at most 64 KiB anyway; a real position
        /// event is under 2 KiB.
        public var maximumEventBytes: Int
        /// The deepest element nesting, counting `<event>` as 1 (`detail/contact` is 3).
        public var maximumDepth: Int
        /// The most attributes one element may carry.
        public var maximumAttributes: Int
        /// The longest attribute value, in bytes as written (before references are decoded),
        /// for every attribute, read or skipped.
        public var maximumValueBytes: Int

        public init(
            maximumEventBytes: Int = 65_536, maximumDepth: Int = 16, maximumAttributes: Int = 32,
            maximumValueBytes: Int = 1_024
        ) {
            self.maximumEventBytes = maximumEventBytes
            self.maximumDepth = maximumDepth
            self.maximumAttributes = maximumAttributes
            self.maximumValueBytes = maximumValueBytes
        }
    }

    public var limits: Limits

    public init(limits: Limits = .init()) {
        self.limits = limits
    }

    /// One complete `<event>…</event>` (one UDP datagram, or one framed TCP event).
    ///
    /// An XML declaration, comments, processing instructions and whitespace may surround the
    /// event; nothing else may. Failures, by code: `xml_invalid` (not well-formed, truncated, not
    /// UTF-8; the message gives the byte offset), `xml_forbidden` (DTDs, unknown entities),
    /// `not_an_event` (another root element), `event_too_large`, `nesting_too_deep`,
    /// `too_many_attributes`, `string_too_long` (the limits), `field_missing` (no `point`, or no
    /// `point@lat`/`@lon`) and `value_invalid` (a number that is not one, a repeated element).
    public func decode(_ bytes: UnsafeRawBufferPointer) -> Result<CoTEvent, ValidationError> {
        guard bytes.count <= limits.maximumEventBytes else {
            return .failure(
                ValidationError(
                    .eventTooLarge, "the event is \(bytes.count) bytes, more than \(limits.maximumEventBytes) (limit)"))
        }
        guard !bytes.isEmpty else {
            return .failure(ValidationError(.xmlInvalid, "invalid XML at byte 0: the input is empty; expected <event>"))
        }
        // The scanner's bookkeeping lives on the stack. Sized by the limits but also by what the
        // input could possibly need (an element takes at least 3 bytes, an attribute 5), so a
        // generous limit does not cost a large allocation for every small event.
        let openCapacity = max(1, min(limits.maximumDepth, bytes.count / 3 + 1))
        let attributeCapacity = max(1, min(limits.maximumAttributes, bytes.count / 5 + 1))
        let scratchCount = XMLScanner.scratchCount(openCapacity: openCapacity, attributeCapacity: attributeCapacity)
        func run(_ scratch: UnsafeMutablePointer<Int>) -> Result<CoTEvent, ValidationError> {
            var scanner = XMLScanner(
                bytes, limits: limits, scratch: scratch, openCapacity: openCapacity, attributeCapacity: attributeCapacity)
            do throws(XMLFailure) {
                return .success(try readEvent(&scanner))
            } catch {
                return .failure(error.validationError)
            }
        }
        // Raised limits on a large input could ask for more than a thread's stack should give
        // (tasks run on small stacks), so beyond a few KiB the bookkeeping goes to the heap.
        if scratchCount <= 512 {
            return withUnsafeTemporaryAllocation(of: Int.self, capacity: scratchCount) { run($0.baseAddress!) }
        }
        let scratch = UnsafeMutablePointer<Int>.allocate(capacity: scratchCount)
        defer { scratch.deallocate() }
        return run(scratch)
    }

    /// Decodes one event held in an array of bytes.
    public func decode(_ bytes: [UInt8]) -> Result<CoTEvent, ValidationError> {
        bytes.withUnsafeBytes { decode($0) }
    }

    /// The children of `<event>` whose own children matter.
    private enum EventChild {
        case point, detail, other
    }

    private func readEvent(_ scanner: inout XMLScanner) throws(XMLFailure) -> CoTEvent {
        var event = CoTEvent(ping: RawPing())
        var time: String?
        var start: String?
        var child = EventChild.other
        // Offsets of the elements read, to refuse a second one: two points (or two tracks) in one
        // event leave no way to tell which the sender meant.
        var pointAt: Int?
        var contactAt: Int?
        var trackAt: Int?
        var statusAt: Int?

        scan: while true {
            let name: XMLName
            switch try scanner.next() {
            case .start(let started): name = started
            case .end: continue scan
            case .finished: break scan
            }
            let tagStart = name.start - 1
            switch scanner.depth {
            case 1:
                guard name.packed == CoTName.event else {
                    throw XMLFailure(
                        code: .notAnEvent, offset: tagStart,
                        reason: "the root element is <\(scanner.text(name.start, name.length))>, not a CoT <event>")
                }
                while let attribute = try scanner.nextAttribute() {
                    switch attribute.name.packed {
                    case CoTName.uid: event.ping.unit = scanner.string(attribute)
                    case CoTName.time: time = scanner.string(attribute)
                    case CoTName.start: start = scanner.string(attribute)
                    case CoTName.type: event.type = scanner.string(attribute)
                    case CoTName.stale: event.stale = scanner.string(attribute)
                    default: break
                    }
                }
            case 2:
                switch name.packed {
                case CoTName.point:
                    child = .point
                    try once(&pointAt, "<point>", at: tagStart)
                    try readPoint(&scanner, into: &event.ping, at: tagStart)
                case CoTName.detail: child = .detail
                default: child = .other
                }
            case 3 where child == .detail:
                switch name.packed {
                case CoTName.contact:
                    try once(&contactAt, "<contact> in <detail>", at: tagStart)
                    while let attribute = try scanner.nextAttribute() {
                        if attribute.name.packed == CoTName.callsign { event.callsign = scanner.string(attribute) }
                    }
                case CoTName.track:
                    try once(&trackAt, "<track> in <detail>", at: tagStart)
                    while let attribute = try scanner.nextAttribute() {
                        switch attribute.name.packed {
                        case CoTName.speed: event.ping.speed = try optionalNumber(attribute, "track@speed", scanner)
                        case CoTName.course: event.ping.heading = try optionalNumber(attribute, "track@course", scanner)
                        default: break
                        }
                    }
                case CoTName.status:
                    try once(&statusAt, "<status> in <detail>", at: tagStart)
                    while let attribute = try scanner.nextAttribute() {
                        if attribute.name.packed == CoTName.battery {
                            event.ping.battery = try optionalNumber(attribute, "status@battery", scanner)
                        }
                    }
                default: break
                }
            default: break
            }
        }
        guard pointAt != nil else {
            throw XMLFailure(
                code: .fieldMissing, offset: nil, reason: "the event has no <point> element (lat, lon are required)")
        }
        event.ping.time = time ?? start
        return event
    }

    private func readPoint(_ scanner: inout XMLScanner, into ping: inout RawPing, at tagStart: Int) throws(XMLFailure) {
        var latitude: Double?
        var longitude: Double?
        while let attribute = try scanner.nextAttribute() {
            switch attribute.name.packed {
            case CoTName.lat: latitude = try number(attribute, "point@lat", scanner)
            case CoTName.lon: longitude = try number(attribute, "point@lon", scanner)
            case CoTName.hae: ping.altitude = try optionalNumber(attribute, "point@hae", scanner)
            case CoTName.ce: ping.accuracy = try optionalNumber(attribute, "point@ce", scanner)
            default: break
            }
        }
        guard let latitude else { throw XMLFailure(code: .fieldMissing, offset: tagStart, reason: "point@lat is required") }
        guard let longitude else { throw XMLFailure(code: .fieldMissing, offset: tagStart, reason: "point@lon is required") }
        ping.latitude = latitude
        ping.longitude = longitude
    }

    private func once(_ seenAt: inout Int?, _ element: StaticString, at offset: Int) throws(XMLFailure) {
        if let first = seenAt {
            throw XMLFailure(
                code: .valueInvalid, offset: offset,
                reason: "a second \(element) (the first is at byte \(first))")
        }
        seenAt = offset
    }

    /// A required number: a coordinate is never "unknown", so a sentinel stays a number here and
    /// the validator refuses it as out of range.
    private func number(_ attribute: XMLAttribute, _ field: StaticString, _ scanner: XMLScanner) throws(XMLFailure)
        -> Double
    {
        guard let value = scanner.number(attribute) else {
            throw XMLFailure(
                code: .valueInvalid, offset: attribute.valueStart,
                reason: "\(field) \"\(scanner.string(attribute).prefix(40))\" is not a number")
        }
        return value
    }

    /// An optional number, nil when the sender says it does not know: CoT's 9999999 (written
    /// `9999999.0` by ATAK) and the 999999 of some producers, or an empty value.
    private func optionalNumber(_ attribute: XMLAttribute, _ field: StaticString, _ scanner: XMLScanner) throws(XMLFailure)
        -> Double?
    {
        if attribute.valueEnd == attribute.valueStart { return nil }
        let value = try number(attribute, field, scanner)
        return value == 9_999_999 || value == 999_999 ? nil : value
    }
}
