import HypervisionCore

/// Opens and edits incidents: validation, routing to a service, storage. Shared by the incident
/// endpoints and by camera analytics events that open an incident.
public struct IncidentDesk: Sendable {
    public let store: IncidentStore
    public let router: IncidentRouter
    public let validator = IncidentValidator()
    public let now: @Sendable () -> Timestamp
    /// Told of every committed change (the daemon puts it on the live picture), so walls and
    /// dossiers see it at once.
    public let onChange: @Sendable (Incident) -> Void

    public init(
        store: IncidentStore, router: IncidentRouter, now: @escaping @Sendable () -> Timestamp = { .now() },
        onChange: @escaping @Sendable (Incident) -> Void = { _ in }
    ) {
        self.store = store
        self.router = router
        self.now = now
        self.onChange = onChange
    }

    /// Applies changes to a stored incident, re-routing when its category or priority changed.
    public func update(id: String, changes: IncidentChanges, at time: Timestamp) async throws -> Incident {
        let updated = try await store.update(id: id, changes: changes, at: time) { [router] incident in
            router.route(category: incident.category, priority: incident.priority, location: incident.location, at: incident.openedAt)
        }
        onChange(updated)
        return updated
    }

    /// Routes a validated incident and stores it.
    public func open(_ incident: Incident) async throws -> Incident {
        var incident = incident
        let decision = router.route(category: incident.category, priority: incident.priority, location: incident.location, at: incident.openedAt)
        incident.service = decision.service
        incident.routingReason = decision.reason
        let stored = try await store.create(incident, at: now())
        onChange(stored)
        return stored
    }
}
