/// How many connections a port holds at most, in all and per client.
///
/// A connection starts *unauthenticated* on ports whose clients authenticate with their first
/// message (NDJSON ingest, scene subscriptions) and counts against the small
/// ``maximumUnauthenticated`` budget until it has proved who it is; only then does it take one
/// of the ``maximumConnections`` slots. So a flood of clients that never authenticate can only
/// fill the small budget, never the slots of the gateways and renderers that do. Ports without
/// authentication of their own (HTTP, where every request carries its token; OsmAnd; CoT)
/// admit connections straight into ``maximumConnections``.
///
/// ``maximumPerAddress`` counts both kinds, per ``ClientAddress``: one client (or one NAT) can
/// never take the whole port. ``maximumUnauthenticatedPerAddress`` bounds one client's share of
/// the budget before authentication: a single address cannot fill it and lock the gateways out
/// (a genuine client authenticates within milliseconds, so it rarely holds more than one place).
public struct AdmissionLimits: Sendable, Hashable {
    /// Authenticated connections (all connections on ports without an authentication phase).
    public var maximumConnections: Int
    /// Connections that have not authenticated yet.
    public var maximumUnauthenticated: Int
    /// Connections of one client address (an IPv4 address, or an IPv6 /64), authenticated or not.
    public var maximumPerAddress: Int
    /// Connections of one client address that have not authenticated yet.
    public var maximumUnauthenticatedPerAddress: Int

    public init(
        maximumConnections: Int, maximumUnauthenticated: Int = 64, maximumPerAddress: Int, maximumUnauthenticatedPerAddress: Int = 8
    ) {
        self.maximumConnections = max(1, maximumConnections)
        self.maximumUnauthenticated = max(1, maximumUnauthenticated)
        self.maximumPerAddress = max(1, maximumPerAddress)
        self.maximumUnauthenticatedPerAddress = max(1, maximumUnauthenticatedPerAddress)
    }
}

/// Why a connection was refused. The raw values are the `reason` label of
/// `hypervision_connections_refused_total`: a fixed, small set.
public enum AdmissionRefusal: String, Error, Sendable, Hashable, CaseIterable {
    /// The port holds ``AdmissionLimits/maximumConnections`` authenticated connections.
    case maximumConnections = "max_connections"
    /// The port holds ``AdmissionLimits/maximumUnauthenticated`` connections still authenticating.
    case maximumUnauthenticated = "max_unauthenticated"
    /// The client's address holds ``AdmissionLimits/maximumPerAddress`` connections, or
    /// ``AdmissionLimits/maximumUnauthenticatedPerAddress`` still authenticating.
    case maximumPerAddress = "max_per_address"
    /// The client's network may not use the port (CoT's `allowedNetworks`).
    case networkNotAllowed = "network_not_allowed"

    /// For messages to the client and the log.
    public var explanation: String {
        switch self {
        case .maximumConnections: "the port holds as many connections as it may"
        case .maximumUnauthenticated: "too many connections are authenticating at once"
        case .maximumPerAddress: "your address holds as many connections as it may"
        case .networkNotAllowed: "your network may not use this port"
        }
    }
}

/// One admitted connection, to authenticate and release it.
public struct AdmissionTicket: Sendable, Hashable {
    let number: UInt64
}

/// The admission decisions of one port as a pure value: counts in, decisions out, no clock and no
/// locking (``ConnectionGate`` holds one behind a lock and turns its counts into metrics).
///
/// Every admitted connection holds a ticket until it is released; releasing twice, or releasing a
/// ticket the ledger does not know, changes nothing, so a connection closed by several paths at
/// once is counted out exactly once.
public struct AdmissionLedger: Sendable {
    private struct Entry {
        let address: ClientAddress
        var authenticated: Bool
    }

    public let limits: AdmissionLimits
    /// Authenticated connections held.
    public private(set) var authenticated = 0
    /// Connections still authenticating.
    public private(set) var unauthenticated = 0
    private var entries: [UInt64: Entry] = [:]
    private var perAddress: [ClientAddress: Int] = [:]
    private var unauthenticatedPerAddress: [ClientAddress: Int] = [:]
    private var nextTicket: UInt64 = 1

    public init(limits: AdmissionLimits) {
        self.limits = limits
    }

    /// Every connection held.
    public var open: Int { authenticated + unauthenticated }

    /// Connections held for `address`.
    public func count(for address: ClientAddress) -> Int { perAddress[address] ?? 0 }

    /// Admits a connection from `address`, already authenticated (ports without an
    /// authentication phase) or not. The per-address limit is checked first, so a refusal names
    /// the abusive client rather than the port.
    public mutating func admit(_ address: ClientAddress, authenticated: Bool) -> Result<AdmissionTicket, AdmissionRefusal> {
        if count(for: address) >= limits.maximumPerAddress { return .failure(.maximumPerAddress) }
        if authenticated {
            guard self.authenticated < limits.maximumConnections else { return .failure(.maximumConnections) }
            self.authenticated += 1
        } else {
            let waiting = unauthenticatedPerAddress[address] ?? 0
            guard waiting < limits.maximumUnauthenticatedPerAddress else { return .failure(.maximumPerAddress) }
            guard unauthenticated < limits.maximumUnauthenticated else { return .failure(.maximumUnauthenticated) }
            unauthenticated += 1
            unauthenticatedPerAddress[address] = waiting + 1
        }
        let ticket = AdmissionTicket(number: nextTicket)
        nextTicket += 1
        entries[ticket.number] = Entry(address: address, authenticated: authenticated)
        perAddress[address, default: 0] += 1
        return .success(ticket)
    }

    /// The connection proved who it is: it leaves the unauthenticated budget for one of the
    /// port's slots. Nil when done (or already done); the refusal when every slot is taken, in
    /// which case the connection keeps its unauthenticated place until it is released.
    public mutating func authenticate(_ ticket: AdmissionTicket) -> AdmissionRefusal? {
        guard var entry = entries[ticket.number], !entry.authenticated else { return nil }
        guard authenticated < limits.maximumConnections else { return .maximumConnections }
        entry.authenticated = true
        entries[ticket.number] = entry
        unauthenticated -= 1
        authenticated += 1
        forgetWaiting(entry.address)
        return nil
    }

    /// The connection closed. Returns false when the ticket was already released.
    @discardableResult
    public mutating func release(_ ticket: AdmissionTicket) -> Bool {
        guard let entry = entries.removeValue(forKey: ticket.number) else { return false }
        if entry.authenticated {
            authenticated -= 1
        } else {
            unauthenticated -= 1
            forgetWaiting(entry.address)
        }
        let remaining = (perAddress[entry.address] ?? 1) - 1
        // Forgotten at zero: the table holds only the clients connected now.
        perAddress[entry.address] = remaining > 0 ? remaining : nil
        return true
    }

    private mutating func forgetWaiting(_ address: ClientAddress) {
        let left = (unauthenticatedPerAddress[address] ?? 1) - 1
        unauthenticatedPerAddress[address] = left > 0 ? left : nil
    }

    /// How many client addresses hold at least one connection.
    public var addressCount: Int { perAddress.count }
}
