import HypervisionCore

/// What happened in the demo city between two calls of ``DemoCity/advance(to:)``.
///
/// Apply it in field order: opened incidents first (the store numbers them), then incident
/// updates (which may refer to an incident opened in this very step when a long pause was caught
/// up), then camera events and camera status changes. Pings can go to ingest at any point.
public struct DemoStep: Sendable, Hashable {
    /// The time the step was computed for: the `now` passed to ``DemoCity/advance(to:)``.
    public var time: Timestamp
    /// One ping per unit, all at ``time``: moving units and also those standing still (on scene,
    /// off duty, in an emergency), because real trackers keep reporting and a marker that stops
    /// reporting turns stale on the wall.
    public var pings: [Ping] = []
    /// Incidents opened in this step, in order, with an empty id for the store to assign.
    /// The first one has the number ``firstIncidentIndex``, the next one that plus one, and so on.
    public var openedIncidents: [Incident] = []
    /// How many incidents the city had opened before this step: the number of
    /// `openedIncidents[0]` in ``DemoIncidentUpdate/index``.
    public var firstIncidentIndex: Int
    /// Changes to incidents opened earlier (acknowledged, escalated, closed).
    public var incidentUpdates: [DemoIncidentUpdate] = []
    /// Motion and analytics events near incidents and at random, each with a 20–90 s time to live.
    public var cameraEvents: [CameraEvent] = []
    /// Cameras going offline or degraded, and coming back online.
    public var cameraStatusChanges: [DemoCameraStatusChange] = []

    public init(time: Timestamp, firstIncidentIndex: Int) {
        self.time = time
        self.firstIncidentIndex = firstIncidentIndex
    }
}

/// A change to an incident the demo city opened earlier.
///
/// The city does not know the ids the store gives its incidents, so it names them by the order
/// in which it opened them: `index` 0 is the first incident it ever opened. The daemon keeps the
/// list of ids it got back from the store and looks the index up.
public struct DemoIncidentUpdate: Sendable, Hashable {
    /// The incident's number in the order the city opened them, from 0.
    public var index: Int
    /// When the change happened (the incident's `closedAt` when it is closed).
    public var time: Timestamp
    /// The new priority when it changed (escalations lower the number: 1 is the most urgent).
    public var priority: Int?
    /// The new status when it changed.
    public var status: Incident.Status?

    public init(index: Int, time: Timestamp, priority: Int? = nil, status: Incident.Status? = nil) {
        self.index = index
        self.time = time
        self.priority = priority
        self.status = status
    }
}

/// A camera whose status changed: an outage starting or ending.
public struct DemoCameraStatusChange: Sendable, Hashable {
    public var cameraID: String
    public var status: Camera.Status
    public var time: Timestamp

    public init(cameraID: String, status: Camera.Status, time: Timestamp) {
        self.cameraID = cameraID
        self.status = status
        self.time = time
    }
}
