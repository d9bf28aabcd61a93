import HypervisionNetwork
import MetricsTestKit
import NIOCore
import Testing

@Suite struct AdmissionTests {
    static let a = ClientAddress.ipv4(0x0A00_0001)
    static let b = ClientAddress.ipv4(0x0A00_0002)

    @Test func aPortHoldsItsMaximumAndNoMore() {
        var ledger = AdmissionLedger(limits: AdmissionLimits(maximumConnections: 2, maximumPerAddress: 10))
        let first = ledger.admit(Self.a, authenticated: true)
        let second = ledger.admit(Self.b, authenticated: true)
        #expect(ledger.admit(Self.a, authenticated: true) == .failure(.maximumConnections))
        #expect(ledger.open == 2)
        // A slot freed is a slot taken again.
        ledger.release(try! first.get())
        #expect((try? ledger.admit(Self.b, authenticated: true).get()) != nil)
        _ = second
    }

    @Test func oneAddressCannotTakeThePort() {
        var ledger = AdmissionLedger(limits: AdmissionLimits(maximumConnections: 100, maximumPerAddress: 3))
        for _ in 0..<3 { _ = ledger.admit(Self.a, authenticated: true) }
        #expect(ledger.admit(Self.a, authenticated: true) == .failure(.maximumPerAddress))
        #expect(ledger.admit(Self.a, authenticated: false) == .failure(.maximumPerAddress))
        // Another client is not held back by the first one's abuse.
        #expect((try? ledger.admit(Self.b, authenticated: true).get()) != nil)
        #expect(ledger.count(for: Self.a) == 3 && ledger.count(for: Self.b) == 1)
    }

    @Test func unauthenticatedConnectionsOnlyFillTheirSmallBudget() throws {
        var ledger = AdmissionLedger(
            limits: AdmissionLimits(maximumConnections: 3, maximumUnauthenticated: 2, maximumPerAddress: 100, maximumUnauthenticatedPerAddress: 100))
        let waiting = try ledger.admit(Self.a, authenticated: false).get()
        _ = try ledger.admit(Self.a, authenticated: false).get()
        #expect(ledger.admit(Self.b, authenticated: false) == .failure(.maximumUnauthenticated))
        // The slots of authenticated clients stay free while strangers wait.
        _ = try ledger.admit(Self.b, authenticated: true).get()
        #expect(ledger.authenticated == 1 && ledger.unauthenticated == 2)
        // Authenticating moves a connection from the budget to a slot, once.
        #expect(ledger.authenticate(waiting) == nil)
        #expect(ledger.authenticate(waiting) == nil)
        #expect(ledger.authenticated == 2 && ledger.unauthenticated == 1)
        #expect((try? ledger.admit(Self.b, authenticated: false).get()) != nil)
    }

    @Test func oneAddressCannotFillTheBudgetBeforeAuthentication() throws {
        var ledger = AdmissionLedger(
            limits: AdmissionLimits(maximumConnections: 10, maximumUnauthenticated: 6, maximumPerAddress: 10, maximumUnauthenticatedPerAddress: 2))
        let first = try ledger.admit(Self.a, authenticated: false).get()
        _ = try ledger.admit(Self.a, authenticated: false).get()
        #expect(ledger.admit(Self.a, authenticated: false) == .failure(.maximumPerAddress))
        // Another client still finds room to authenticate.
        #expect((try? ledger.admit(Self.b, authenticated: false).get()) != nil)
        // Once one of the first client's connections has authenticated, it may start another.
        #expect(ledger.authenticate(first) == nil)
        #expect((try? ledger.admit(Self.a, authenticated: false).get()) != nil)
        #expect(ledger.admit(Self.a, authenticated: false) == .failure(.maximumPerAddress))
    }

    @Test func authenticatingWhenEverySlotIsTakenIsRefusedAndKeepsTheBudgetPlace() throws {
        var ledger = AdmissionLedger(limits: AdmissionLimits(maximumConnections: 1, maximumUnauthenticated: 5, maximumPerAddress: 100))
        _ = try ledger.admit(Self.a, authenticated: true).get()
        let late = try ledger.admit(Self.b, authenticated: false).get()
        #expect(ledger.authenticate(late) == .maximumConnections)
        #expect(ledger.unauthenticated == 1 && ledger.authenticated == 1)
        ledger.release(late)
        #expect(ledger.open == 1)
    }

    @Test func releasingTwiceCountsOnceAndAddressesAreForgotten() throws {
        var ledger = AdmissionLedger(limits: AdmissionLimits(maximumConnections: 5, maximumPerAddress: 5))
        let ticket = try ledger.admit(Self.a, authenticated: true).get()
        let first = ledger.release(ticket)
        let second = ledger.release(ticket)
        #expect(first && !second)
        #expect(ledger.open == 0 && ledger.addressCount == 0)
    }

    @Test func addressesCountByIPv4AndByIPv6Slash64() throws {
        let v4 = try SocketAddress(ipAddress: "192.0.2.7", port: 1)
        let mapped = try SocketAddress(ipAddress: "::ffff:192.0.2.7", port: 2)
        #expect(ClientAddress(v4) == ClientAddress(mapped))
        #expect(ClientAddress(v4).description == "192.0.2.7")
        let host1 = try SocketAddress(ipAddress: "2001:db8:1:2::1", port: 1)
        let host2 = try SocketAddress(ipAddress: "2001:db8:1:2:ffff::9", port: 1)
        let other = try SocketAddress(ipAddress: "2001:db8:1:3::1", port: 1)
        #expect(ClientAddress(host1) == ClientAddress(host2))
        #expect(ClientAddress(host1) != ClientAddress(other))
        #expect(ClientAddress(host1).description == "2001:db8:1:2::/64")
        #expect(ClientAddress(nil) == .local)
    }

    @Test func theGateCountsOpenAndRefusedConnectionsInMetrics() throws {
        let metrics = TestMetrics()
        let gate = ConnectionGate(port: "ingest.tcp", limits: AdmissionLimits(maximumConnections: 1, maximumPerAddress: 10), metricsFactory: metrics)
        let peer = try SocketAddress(ipAddress: "10.0.0.1", port: 5)
        let ticket = try gate.admit(peer, authenticated: true).get()
        #expect(try metrics.expectGauge("hypervision_connections_open", [("port", "ingest.tcp")]).lastValue == 1)
        #expect(gate.admit(peer, authenticated: true) == .failure(.maximumConnections))
        let refused = try metrics.expectCounter(
            "hypervision_connections_refused_total", [("port", "ingest.tcp"), ("reason", "max_connections")])
        #expect(refused.totalValue == 1)
        gate.release(ticket)
        gate.release(ticket)
        #expect(try metrics.expectGauge("hypervision_connections_open", [("port", "ingest.tcp")]).lastValue == 0)
        gate.deadlineExpired(.authentication)
        let closes = try metrics.expectCounter(
            "hypervision_connection_deadline_closes_total", [("port", "ingest.tcp"), ("phase", "authentication")])
        #expect(closes.totalValue == 1)
        #expect(gate.refusedConnections == 1 && gate.deadlineCloses == 1 && gate.openConnections == 0)
    }
}
