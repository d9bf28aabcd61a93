/// Something a camera or its analytics reported: motion, an analytics alarm, tampering.
///
/// Every event has a time to live: walls react to it while it is active and return to their
/// normal content by themselves when it expires, without anyone having to clear it.
public struct CameraEvent: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case motion, analytics, tamper
    }

    /// Assigned by the store; 0 before it is stored.
    public var id: Int64
    public var cameraID: String
    public var kind: Kind
    /// What the analytics saw ("person in restricted area", "abandoned bag").
    public var label: String?
    /// The analytics' confidence, 0...1.
    public var confidence: Double?
    public var occurredAt: Timestamp
    public var expiresAt: Timestamp
    /// The incident this event opened or belongs to, if any.
    public var incidentID: String?

    public init(
        id: Int64 = 0, cameraID: String, kind: Kind, label: String? = nil, confidence: Double? = nil, occurredAt: Timestamp,
        expiresAt: Timestamp, incidentID: String? = nil
    ) {
        self.id = id
        self.cameraID = cameraID
        self.kind = kind
        self.label = label
        self.confidence = confidence
        self.occurredAt = occurredAt
        self.expiresAt = expiresAt
        self.incidentID = incidentID
    }

    public func isActive(at now: Timestamp) -> Bool { occurredAt <= now && now < expiresAt }
}

/// The rules a camera event must pass: a known kind, a bounded time to live, sane text.
public struct CameraEventValidator: Sendable {
    public var defaultTTLSeconds: Double = 60
    public var maximumTTLSeconds: Double = 3_600
    public var maximumLabelBytes = 256
    public var maximumAgeSeconds: Double = 3_600
    public var maximumFutureSeconds: Double = 300

    public init() {}

    public func validate(
        cameraID: String, kind: String?, label: String?, confidence: Double?, time: String?, ttlSeconds: Double?, now: Timestamp
    ) throws(ValidationError) -> CameraEvent {
        guard let kindText = kind else { throw ValidationError(.fieldMissing, "kind is required (motion, analytics or tamper)") }
        guard let kind = CameraEvent.Kind(rawValue: kindText) else {
            throw ValidationError(.valueInvalid, "kind \"\(kindText.prefix(32))\" is not one of motion, analytics, tamper")
        }
        if let label {
            guard label.utf8.count <= maximumLabelBytes else {
                throw ValidationError(.stringTooLong, "label is longer than \(maximumLabelBytes) bytes")
            }
            try InputText.check(label, field: "label")
        }
        if let confidence, !(confidence.isFinite && (0...1).contains(confidence)) {
            throw ValidationError(.valueInvalid, "confidence \(confidence) is outside [0, 1]")
        }
        let ttl = ttlSeconds ?? defaultTTLSeconds
        guard ttl.isFinite, ttl > 0, ttl <= maximumTTLSeconds else {
            throw ValidationError(.valueInvalid, "ttl \(ttl) s is outside (0, \(Int(maximumTTLSeconds))]")
        }
        var occurredAt = now
        if let time {
            let parsed = try Timestamp.parseStorable(time, field: "time")
            let offset = Double(parsed.microseconds - now.microseconds) / 1e6
            guard offset <= maximumFutureSeconds else {
                throw ValidationError(.timeInFuture, "time is more than \(Int(maximumFutureSeconds)) s in the future")
            }
            guard -offset <= maximumAgeSeconds else {
                throw ValidationError(.timeTooOld, "time is more than \(Int(maximumAgeSeconds)) s in the past")
            }
            occurredAt = parsed
        }
        return CameraEvent(
            cameraID: cameraID, kind: kind, label: label, confidence: confidence, occurredAt: occurredAt,
            expiresAt: occurredAt.adding(seconds: ttl))
    }
}
