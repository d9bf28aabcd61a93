#if canImport(Glibc)
import Glibc
#endif
import HypervisionCore
import Testing

@Suite("A piece of work in the real-time class")
struct ThreadPriorityTests {
    static func policy() -> Int32 {
        var policy: Int32 = -1
        var parameters = sched_param()
        _ = pthread_getschedparam(pthread_self(), &policy, &parameters)
        return policy
    }

    /// CAP_SYS_NICE (bit 23) among the process's effective capabilities.
    static func hasSysNice() -> Bool {
        guard let file = fopen("/proc/self/status", "r") else { return false }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard text.hasPrefix("CapEff:") else { continue }
            let hex = text.dropFirst("CapEff:".count).trimmingPrefix(while: { $0 == "\t" || $0 == " " }).prefix { $0.isHexDigit }
            return (UInt64(hex, radix: 16) ?? 0) & (1 << 23) != 0
        }
        return false
    }

    #if os(Linux)
    @Test func theClassIsRaisedOnlyForTheWorkAndOnlyWhenItSaysSo() {
        #expect(Self.policy() == SCHED_OTHER)
        let (raised, inside) = ThreadPriority.withRealTime(priority: 1) { raised in (raised, Self.policy()) }
        // Granted or refused depends on the machine (root, CAP_SYS_NICE, RLIMIT_RTPRIO); what
        // the body is told must be what it runs in, and the thread must be back afterwards.
        #expect(inside == (raised ? SCHED_FIFO : SCHED_OTHER))
        #expect(Self.policy() == SCHED_OTHER)
        if Self.hasSysNice() { #expect(raised, "a thread with CAP_SYS_NICE may enter the real-time class") }
    }

    @Test func aRefusalRunsTheWorkAsItIs() {
        // Past the highest real-time priority (99): refused whatever the privileges.
        let (raised, inside) = ThreadPriority.withRealTime(priority: 100) { raised in (raised, Self.policy()) }
        #expect(!raised && inside == SCHED_OTHER)
        let skipped = ThreadPriority.withRealTime(priority: 1, if: false) { raised in (raised, Self.policy()) }
        #expect(!skipped.0 && skipped.1 == SCHED_OTHER)
        #expect(Self.policy() == SCHED_OTHER)
    }
    #endif
}
