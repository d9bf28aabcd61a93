import Foundation
import HypervisionApp
import HypervisionCore
import HypervisionTestSupport
import Testing
import HypervisionConfiguration
import HypervisionLive

/// A stream of made-up unit ids does not grow the daemon's memory: the live picture keeps
/// `units.maxLive` units, the most recently heard, counts what it forgot, and the walls drop the
/// forgotten units' markers.
@Suite(.serialized) struct LiveUnitBoundsAPITests {
    /// The value of the Prometheus sample `name` (with its labels, as printed), or nil.
    static func metric(_ text: String, _ name: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    @Test(.timeLimit(.minutes(3)))
    func aStreamOfRandomUnitIdsStaysWithinTheCap() async throws {
        let daemon = try await APIDaemon("units-cap", extraConfiguration: "units:\n  maxLive: 50\nwalls:\n  intervalMs: 50\n")
        let wall = try await daemon.exchange("PUT", "/api/v1/walls/cap-wall", WallAPITests.definition(id: "cap-wall"))
        #expect(wall.status == 200 || wall.status == 201, "\(wall)")
        var rng = SeededRandom(seed: 11)
        var batches: [[String]] = []
        // Ten requests of fifty new units each, all inside the wall's map (Paris).
        for batch in 0..<10 {
            let ids = (0..<50).map { _ in "RND-\(batch)-\(UInt32.random(in: 0...UInt32.max, using: &rng))" }
            batches.append(ids)
            let now = Timestamp.now()
            let pings = ids.map { unit in
                #"{"unit":"\#(unit)","time":"\#(now.rfc3339)","lat":\#(Double.random(in: 48.83...48.89, using: &rng)),"lon":\#(Double.random(in: 2.28...2.40, using: &rng))}"#
            }
            let sent = try await daemon.exchange("POST", "/api/v1/pings", "[" + pings.joined(separator: ",") + "]", token: "ingest-secret")
            #expect(sent.status == 200 && field(sent.json, "accepted") as? Int == 50, "\(sent)")
        }
        // Each request was heard after the one before: only the last fifty are kept.
        let units = try await daemon.exchange("GET", "/api/v1/units", token: "query-secret")
        let kept = Set((field(units.json, "features") as? [[String: Any]] ?? []).compactMap { $0["id"] as? String })
        #expect(kept == Set(batches[9]), "\(kept.count) units kept")
        #expect(try await daemon.exchange("GET", "/api/v1/units/\(batches[0][0])", token: "query-secret").status == 404)

        let metrics = try await daemon.exchange("GET", "/metrics").text
        #expect(Self.metric(metrics, "hypervision_live_units") == 50, "\(metrics)")
        #expect(Self.metric(metrics, #"hypervision_live_units_evicted_total{reason="capacity"}"#) == 450)
        #expect(Self.metric(metrics, #"hypervision_live_units_evicted_total{reason="silent"}"#) == 0)

        // The wall's map shows exactly the units kept: the forgotten ones were removed from it.
        let scene = try await WallAPITests.scene(daemon, "cap-wall") { _ in true }
        var markers = Set((field(scene.json, "units") as? [String: Any] ?? [:]).keys)
        let deadline = ContinuousClock.now + .seconds(10)
        while markers != kept && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            let again = try await daemon.exchange("GET", "/api/v1/walls/cap-wall/scene", token: "query-secret")
            markers = Set((field(again.json, "units") as? [String: Any] ?? [:]).keys)
        }
        #expect(markers == kept, "\(markers.subtracting(kept).count) forgotten units still on the wall")

        // A forgotten unit that pings again comes back; the longest-unheard of the others makes room.
        let comeback = #"{"unit":"\#(batches[0][0])","time":"\#(Timestamp.now().rfc3339)","lat":48.86,"lon":2.35,"status":"available"}"#
        #expect(try await daemon.exchange("POST", "/api/v1/pings", comeback, token: "ingest-secret").status == 200)
        let back = try await daemon.exchange("GET", "/api/v1/units/\(batches[0][0])", token: "query-secret")
        #expect(back.status == 200 && field(back.json, "properties", "status") as? String == "available", "\(back)")
        let after = try await daemon.exchange("GET", "/metrics").text
        #expect(Self.metric(after, "hypervision_live_units") == 50)
        #expect(Self.metric(after, #"hypervision_live_units_evicted_total{reason="capacity"}"#) == 451)
        #expect(await daemon.stop() == 0)
    }

    @Test func theBoundsAreConfigurationKeysNamedWhenWrong() async throws {
        let defaults = try await ConfigurationLoader.load(filePath: nil, overrides: [:], environment: [:])
        #expect(defaults.units.maximumUnits == 200_000 && defaults.units.forgetAfter == 86_400)
        let set = try await ConfigurationLoader.load(
            filePath: nil, overrides: [:], environment: ["HYPERVISION_UNITS_MAX_LIVE": "1000", "HYPERVISION_UNITS_FORGET_AFTER_HOURS": "0"])
        #expect(set.units.maximumUnits == 1_000 && set.units.forgetAfter == nil)
        for (variable, value, key) in [
            ("HYPERVISION_UNITS_MAX_LIVE", "0", "units.maxLive"), ("HYPERVISION_UNITS_MAX_LIVE", "many", "units.maxLive"),
            ("HYPERVISION_UNITS_FORGET_AFTER_HOURS", "-1", "units.forgetAfterHours"),
            ("HYPERVISION_UNITS_FORGET_AFTER_HOURS", "soon", "units.forgetAfterHours"),
        ] {
            do {
                _ = try await ConfigurationLoader.load(filePath: nil, overrides: [:], environment: [variable: value])
                Issue.record("\(variable)=\(value) was accepted")
            } catch {
                #expect(error.key == key, "\(error)")
            }
        }
    }
}
