extension Timestamp {
    /// The instants the daemon accepts from clients: years 0001 to 9999, UTC.
    ///
    /// Both ends are real limits, not taste. PostgreSQL has no year 0 (its text input reads
    /// `0000-…` as an error; year 1 BC is written `0001-… BC`), and ``rfc3339`` writes a year past
    /// 9999 with five digits, which RFC 3339, and so ``init(rfc3339:)``, does not read back. An
    /// instant inside this range survives a round trip through PostgreSQL and through our own
    /// formatter and parser unchanged.
    public static let storableRange: ClosedRange<Timestamp> =
        Timestamp(microseconds: -62_135_596_800_000_000)...Timestamp(microseconds: 253_402_300_799_999_999)

    /// Whether the instant lies in ``storableRange``.
    public var isStorable: Bool { Self.storableRange.contains(self) }

    /// Parses an RFC 3339 time sent by a client for `field` (a body member or a query
    /// parameter): `time_invalid` when it is not RFC 3339 or lies outside ``storableRange``
    /// (`0000-01-01T00:00:00Z`, or `9999-12-31T23:30:00-01:00`, which is in year 10000).
    public static func parseStorable(_ text: some StringProtocol, field: String) throws(ValidationError) -> Timestamp {
        guard let time = Timestamp(rfc3339: text) else {
            throw ValidationError(.timeInvalid, "\(field) \"\(text.prefix(40))\" is not an RFC 3339 time")
        }
        guard time.isStorable else {
            throw ValidationError(.timeInvalid, "\(field) \"\(text.prefix(40))\" is outside years 0001 to 9999 (UTC)")
        }
        return time
    }
}
