import HypervisionCore

/// The text that carries pings from one daemon to the others through `NOTIFY`.
///
/// A payload is a header line naming the daemon that took the pings (`H1 <node>`), then one line
/// per ping, tab-separated: unit, device time and receive time in microseconds, latitude,
/// longitude, altitude, speed, heading, accuracy, status, battery (an absent value is an empty
/// field). Doubles are written in Swift's shortest exact form, so a ping arrives bit for bit as
/// it left. PostgreSQL refuses payloads of 8,000 bytes or more, so ``encode(_:node:maximumBytes:)``
/// splits a batch into as many payloads as it needs.
///
/// Anyone allowed to connect may `NOTIFY` on the channel, so ``decode(_:)`` trusts nothing: a
/// line that is not a valid ping is refused with its reason, and the other lines still count.
public enum LiveFeedCodec {
    /// Below PostgreSQL's limit on a notification payload (8,000 bytes).
    public static let maximumPayloadBytes = 7_900
    static let header = "H1 "

    /// The payloads that carry `pings` as sent by `node`, each at most `maximumBytes` long.
    public static func encode(_ pings: [Ping], node: String, maximumBytes: Int = maximumPayloadBytes) -> [String] {
        let head = header + node + "\n"
        var payloads: [String] = []
        var current = head
        for ping in pings {
            let line = self.line(ping)
            if current.utf8.count + line.utf8.count > maximumBytes, current.utf8.count > head.utf8.count {
                payloads.append(current)
                current = head
            }
            current += line
        }
        if current.utf8.count > head.utf8.count { payloads.append(current) }
        return payloads
    }

    static func line(_ ping: Ping) -> String {
        func optional(_ value: Double?) -> String { value.map { "\($0)" } ?? "" }
        var fields: [String] = []
        fields.reserveCapacity(11)
        fields.append(ping.unit.rawValue)
        fields.append(String(ping.time.microseconds))
        fields.append(String(ping.receivedAt.microseconds))
        fields.append("\(ping.position.latitude)")
        fields.append("\(ping.position.longitude)")
        fields.append(optional(ping.altitude))
        fields.append(optional(ping.speed))
        fields.append(optional(ping.heading))
        fields.append(optional(ping.accuracy))
        fields.append(ping.status?.rawValue ?? "")
        fields.append(ping.battery.map(String.init) ?? "")
        return fields.joined(separator: "\t") + "\n"
    }

    /// What one payload said: who sent it, its pings, and the lines refused (with why).
    public struct Decoded: Sendable, Equatable {
        public var node: String
        public var pings: [Ping]
        public var refused: [String]
    }

    /// A payload whose header is missing or unknown: nothing in it can be read.
    public struct UnreadablePayload: Error, Sendable, Equatable, CustomStringConvertible {
        public var reason: String
        public var description: String { "unreadable live feed payload: \(reason)" }
    }

    public static func decode(_ payload: String) throws(UnreadablePayload) -> Decoded {
        var lines = payload.split(separator: "\n", omittingEmptySubsequences: true)[...]
        guard let first = lines.popFirst(), first.hasPrefix(header) else {
            throw UnreadablePayload(reason: "no \"\(header)<node>\" header")
        }
        let node = String(first.dropFirst(header.count))
        guard !node.isEmpty else { throw UnreadablePayload(reason: "the header names no node") }
        var decoded = Decoded(node: node, pings: [], refused: [])
        decoded.pings.reserveCapacity(lines.count)
        for line in lines {
            switch ping(line) {
            case .success(let ping): decoded.pings.append(ping)
            case .failure(let reason): decoded.refused.append(reason.reason)
            }
        }
        return decoded
    }

    static func ping(_ line: Substring) -> Result<Ping, UnreadablePayload> {
        let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
        guard fields.count == 11 else { return .failure(.init(reason: "\(fields.count) fields, not 11")) }
        func double(_ index: Int, _ name: String) -> Result<Double?, UnreadablePayload> {
            if fields[index].isEmpty { return .success(nil) }
            guard let value = Double(fields[index]), value.isFinite else { return .failure(.init(reason: "\(name) is not a number")) }
            return .success(value)
        }
        do throws(UnreadablePayload) {
            let unit: UnitID
            do { unit = try UnitID(fields[0]) } catch { return .failure(.init(reason: "unit: \(error)")) }
            guard let time = Int64(fields[1]), let received = Int64(fields[2]) else {
                return .failure(.init(reason: "times are not integers"))
            }
            guard let latitude = try double(3, "latitude").get(), let longitude = try double(4, "longitude").get(),
                (-90...90).contains(latitude), (-180...180).contains(longitude)
            else { return .failure(.init(reason: "no valid position")) }
            var status: UnitStatus?
            if !fields[9].isEmpty {
                guard let known = UnitStatus(rawValue: String(fields[9])) else { return .failure(.init(reason: "bad status")) }
                status = known
            }
            var battery: Int?
            if !fields[10].isEmpty {
                guard let level = Int(fields[10]), (0...100).contains(level) else { return .failure(.init(reason: "bad battery")) }
                battery = level
            }
            return .success(
                Ping(
                    unit: unit, time: Timestamp(microseconds: time), position: GeoPoint(latitude: latitude, longitude: longitude),
                    altitude: try double(5, "altitude").get(), speed: try double(6, "speed").get(), heading: try double(7, "heading").get(),
                    accuracy: try double(8, "accuracy").get(), status: status, battery: battery, receivedAt: Timestamp(microseconds: received)))
        } catch {
            return .failure(error)
        }
    }
}
