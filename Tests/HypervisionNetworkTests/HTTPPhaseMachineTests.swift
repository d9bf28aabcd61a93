import HypervisionNetwork
import NIOCore
import Testing

@Suite struct HTTPPhaseMachineTests {
    static let deadlines = HTTPPhaseMachine.Deadlines(header: .seconds(10), body: .seconds(30), idle: .seconds(60))

    @Test func aRequestGoesThroughHeaderBodyAnsweringAndIdle() {
        var machine = HTTPPhaseMachine(deadlines: Self.deadlines)
        #expect(machine.connected() == .arm(.header, after: .seconds(10)))
        // Bytes of the first request change nothing: the header deadline runs from the connection.
        #expect(machine.bytesReceived() == .none)
        #expect(machine.headReceived() == .arm(.body, after: .seconds(30)))
        #expect(machine.endReceived() == .disarm)
        #expect(machine.armed == nil)  // answering has no connection deadline
        #expect(machine.responseEnded() == .arm(.idle, after: .seconds(60)))
        // Keep-alive: the next request's first byte starts its header deadline.
        #expect(machine.bytesReceived() == .arm(.header, after: .seconds(10)))
        #expect(machine.headReceived() == .arm(.body, after: .seconds(30)))
    }

    @Test func aSilentNewConnectionGoesAtTheShorterOfHeaderAndIdle() {
        var machine = HTTPPhaseMachine(deadlines: .init(header: .seconds(10), body: .seconds(30), idle: .seconds(1)))
        #expect(machine.connected() == .arm(.header, after: .seconds(1)))
        _ = machine.headReceived()
        _ = machine.endReceived()
        #expect(machine.responseEnded() == .arm(.idle, after: .seconds(1)))
        #expect(machine.bytesReceived() == .arm(.header, after: .seconds(10)))
    }

    @Test func aLateHeadIsClosedWithA408AndALateBodyWithout() {
        var slowloris = HTTPPhaseMachine(deadlines: Self.deadlines)
        _ = slowloris.connected()
        _ = slowloris.bytesReceived()
        #expect(slowloris.timerFired() == .close(.header, answer: true))
        #expect(slowloris.timerFired() == .none)  // closed once

        var trickle = HTTPPhaseMachine(deadlines: Self.deadlines)
        _ = trickle.connected()
        _ = trickle.headReceived()
        #expect(trickle.timerFired() == .close(.body, answer: false))
    }

    @Test func anEarlyResponseLeavesTheBodyDeadlineRunning() {
        var machine = HTTPPhaseMachine(deadlines: Self.deadlines)
        _ = machine.connected()
        _ = machine.headReceived()
        // A 413 or 401 goes out before the body is read: the client must still finish sending.
        #expect(machine.responseEnded() == .none)
        #expect(machine.armed == .body)
        #expect(machine.endReceived() == .arm(.idle, after: .seconds(60)))
    }

    @Test func pipelinedRequestsGoIdleOnlyOnceAllAreAnswered() {
        var machine = HTTPPhaseMachine(deadlines: Self.deadlines)
        _ = machine.connected()
        _ = machine.headReceived()
        _ = machine.endReceived()
        _ = machine.headReceived()
        _ = machine.endReceived()
        #expect(machine.responseEnded() == .none)
        #expect(machine.responseEnded() == .arm(.idle, after: .seconds(60)))
        #expect(machine.timerFired() == .close(.idle, answer: false))
    }

    @Test func anUpgradeEndsHTTPDeadlines() {
        var machine = HTTPPhaseMachine(deadlines: Self.deadlines)
        _ = machine.connected()
        _ = machine.headReceived()
        _ = machine.endReceived()
        #expect(machine.responseHeadWritten(switchingProtocols: false) == .none)
        _ = machine.responseEnded()
        _ = machine.bytesReceived()
        _ = machine.headReceived()
        #expect(machine.responseHeadWritten(switchingProtocols: true) == .disarm)
        #expect(machine.timerFired() == .none)
        #expect(machine.bytesReceived() == .none)
        #expect(machine.quiesce() == .none)
    }

    @Test func stoppingClosesConnectionsWithNothingUnderWay() {
        var idle = HTTPPhaseMachine(deadlines: Self.deadlines)
        _ = idle.connected()
        #expect(idle.quiesce() == .closeNow)

        var busy = HTTPPhaseMachine(deadlines: Self.deadlines)
        _ = busy.connected()
        _ = busy.headReceived()
        #expect(busy.quiesce() == .none)
        _ = busy.endReceived()
        #expect(busy.quiesce() == .none)
        _ = busy.responseEnded()
        #expect(busy.quiesce() == .closeNow)
    }
}
