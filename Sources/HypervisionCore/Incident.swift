import Foundation

/// Something happening at a place that operators follow.
public struct Incident: Sendable, Hashable {
    /// Lifecycle of an incident.
    public enum Status: String, Sendable, Hashable, CaseIterable {
        case open, acknowledged, closed
    }

    /// Where an incident was reported from.
    public enum Source: String, Sendable, Hashable, CaseIterable {
        /// The citizen emergency line (17/112) or its web form.
        case citizenLine = "citizen_line"
        case chatbot
        /// A camera's video analytics raised it.
        case cameraAnalytics = "camera_analytics"
        case `operator`
    }

    public var id: String
    public var category: String
    /// 1 is the most urgent; 5 the least.
    public var priority: Int
    public var location: GeoPoint
    public var status: Status
    public var openedAt: Timestamp
    public var closedAt: Timestamp?
    public var summary: String?
    public var source: Source
    /// The responsible service chosen by routing, and the reason it was chosen.
    public var service: String?
    public var routingReason: String?

    public init(
        id: String, category: String, priority: Int, location: GeoPoint, status: Status = .open,
        openedAt: Timestamp, closedAt: Timestamp? = nil, summary: String? = nil, source: Source = .operator,
        service: String? = nil, routingReason: String? = nil
    ) {
        self.id = id
        self.category = category
        self.priority = priority
        self.location = location
        self.status = status
        self.openedAt = openedAt
        self.closedAt = closedAt
        self.summary = summary
        self.source = source
        self.service = service
        self.routingReason = routingReason
    }

    /// Open or acknowledged: still on the wall and in the dossiers.
    public var isActive: Bool { status != .closed }
}

/// An incident as a client described it, before validation (every field as sent).
public struct RawIncident: Sendable, Hashable {
    public var id: String?
    public var category: String?
    public var priority: Int?
    public var latitude: Double?
    public var longitude: Double?
    public var openedAt: String?
    public var summary: String?
    public var source: String?
    public init() {}
}

/// The rules an incident must pass before it is stored.
public struct IncidentValidator: Sendable {
    public var maximumSummaryBytes = 4_096
    /// How far in the future an `openedAt` may lie (clock skew of the reporting system).
    public var maximumFutureSeconds: Double = 300

    public init() {}

    /// Checks a category: lower-case words joined by `_` or `-`, as routing rules name them.
    public func validateCategory(_ text: String) throws(ValidationError) -> String {
        guard !text.isEmpty, text.utf8.count <= 64,
            text.utf8.allSatisfy({ (97...122).contains($0) || (48...57).contains($0) || $0 == 95 || $0 == 45 })
        else {
            throw ValidationError(.valueInvalid, "category must be 1 to 64 characters of a-z, 0-9, _ and - (e.g. noise, road_accident)")
        }
        return text
    }

    public func validatePriority(_ value: Int) throws(ValidationError) -> Int {
        guard (1...5).contains(value) else { throw ValidationError(.valueInvalid, "priority \(value) is outside 1...5 (1 is the most urgent)") }
        return value
    }

    /// Checks a summary: free text of at most ``maximumSummaryBytes``, on several lines if need
    /// be, without other control characters (PostgreSQL text cannot hold NUL).
    public func validateSummary(_ text: String) throws(ValidationError) -> String {
        guard text.utf8.count <= maximumSummaryBytes else {
            throw ValidationError(.stringTooLong, "summary is longer than \(maximumSummaryBytes) bytes")
        }
        try InputText.check(text, field: "summary", allowingLineBreaks: true)
        return text
    }

    /// Validates everything but the id, which the store assigns when none is given.
    public func validate(_ raw: RawIncident, now: Timestamp) throws(ValidationError) -> Incident {
        if let id = raw.id {
            do { _ = try UnitID(id) } catch {
                throw ValidationError(.valueInvalid, "incident " + error.message.replacingOccurrences(of: "unit id", with: "id"))
            }
        }
        guard let categoryText = raw.category else { throw ValidationError(.fieldMissing, "category is required") }
        let category = try validateCategory(categoryText)
        let priority = try validatePriority(raw.priority ?? 3)
        guard let lat = raw.latitude else { throw ValidationError(.fieldMissing, "lat is required") }
        guard let lon = raw.longitude else { throw ValidationError(.fieldMissing, "lon is required") }
        let location = try GeoPoint.validated(latitude: lat, longitude: lon)
        var openedAt = now
        if let text = raw.openedAt {
            let parsed = try Timestamp.parseStorable(text, field: "openedAt")
            guard Double(parsed.microseconds - now.microseconds) / 1e6 <= maximumFutureSeconds else {
                throw ValidationError(.timeInFuture, "openedAt is more than \(Int(maximumFutureSeconds)) s in the future")
            }
            openedAt = parsed
        }
        var source = Incident.Source.operator
        if let text = raw.source {
            guard let parsed = Incident.Source(rawValue: text) else {
                throw ValidationError(
                    .valueInvalid, "source must be one of \(Incident.Source.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            source = parsed
        }
        return Incident(
            id: raw.id ?? "", category: category, priority: priority, location: location, openedAt: openedAt,
            summary: try raw.summary.map(validateSummary), source: source)
    }
}
