#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The calling thread's scheduling class, raised for the length of a piece of work.
public enum ThreadPriority {
    /// Runs `body` with the calling thread in the real-time class (`SCHED_FIFO` at `priority`),
    /// then puts it back, when `condition` holds. Needs CAP_SYS_NICE or an RLIMIT_RTPRIO of at
    /// least `priority` (and, under a systemd sandbox, `sched_setscheduler` allowed); when refused,
    /// or for a thread already in another class, `body` runs as it is and `raised` is false.
    ///
    /// For short, bounded work that must not wait for a core: a real-time thread is preempted by
    /// no ordinary one. The kernel keeps 5% of each core for ordinary threads
    /// (`sched_rt_runtime_us`) whatever a real-time thread does.
    public static func withRealTime<Result>(priority: Int32, if condition: Bool = true, _ body: (_ raised: Bool) throws -> Result) rethrows -> Result {
        #if os(Linux)
        guard condition else { return try body(false) }
        let thread = pthread_self()
        var policy: Int32 = 0
        var before = sched_param()
        guard pthread_getschedparam(thread, &policy, &before) == 0, policy == SCHED_OTHER else { return try body(false) }
        var raised = sched_param()
        raised.sched_priority = priority
        guard pthread_setschedparam(thread, SCHED_FIFO, &raised) == 0 else { return try body(false) }
        defer { _ = pthread_setschedparam(thread, policy, &before) }
        return try body(true)
        #else
        return try body(false)
        #endif
    }
}
