import ArgumentParser
import HypervisionCLI
import HypervisionCore
import Foundation

struct Units: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Where units are now, and where one has been.",
        subcommands: [Get.self, Near.self, Nearest.self, In.self, Track.self])

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One unit's last known position and state.")
        @OptionGroup var address: DaemonAddress
        @OptionGroup var output: OutputFormat
        @Argument(help: "The unit's id, e.g. PN-75-BAC-12.") var id: String

        func validate() throws { _ = try checked { () throws(Failure) in try unitID(id) } }

        func run() async throws {
            try await reportingFailures { () throws(Failure) in
                let answer = try await address.client().fetch(.unit(try unitID(id)))
                output.print(answer) { unitDetail(answer.document, clock: localClock()) }
            }
        }
    }

    struct Near: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Units within a radius of a point, nearest first.",
            discussion: "Example: hypervisionctl units near 48.8566,2.3522 --radius 500 --status available")
        @OptionGroup var address: DaemonAddress
        @OptionGroup var output: OutputFormat
        @OptionGroup var filter: UnitFilterOptions
        @Argument(help: "The centre as LAT,LON in degrees.") var point: String
        @Option(name: .long, help: "Radius in metres.") var radius: Double

        func validate() throws {
            _ = try checked { () throws(Failure) in try parsePoint(point) }
            guard radius > 0, radius.isFinite else { throw ArgumentParser.ValidationError("--radius must be a positive number of metres") }
        }

        func run() async throws {
            try await reportingFailures { () throws(Failure) in
                let request = APIRequest.units(near: try parsePoint(point), radius: radius, filter: filter.filter)
                let answer = try await address.client().fetch(request)
                output.print(answer) { unitsTable(answer.document, clock: localClock()) }
            }
        }
    }

    struct Nearest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The k units nearest a point, whatever the distance.")
        @OptionGroup var address: DaemonAddress
        @OptionGroup var output: OutputFormat
        @OptionGroup var filter: UnitFilterOptions
        @Argument(help: "The point as LAT,LON in degrees.") var point: String
        @Option(name: [.customShort("k"), .customLong("count")], help: "How many units (the daemon's default when absent).")
        var count: Int?

        func validate() throws {
            _ = try checked { () throws(Failure) in try parsePoint(point) }
            if let count, count < 1 { throw ArgumentParser.ValidationError("-k must be at least 1") }
        }

        func run() async throws {
            try await reportingFailures { () throws(Failure) in
                let request = APIRequest.units(nearest: try parsePoint(point), count: count, filter: filter.filter)
                let answer = try await address.client().fetch(request)
                output.print(answer) { unitsTable(answer.document, clock: localClock()) }
            }
        }
    }

    struct In: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Units inside a box or a polygon.",
            discussion: """
                The polygon file is GeoJSON in WGS 84 (as QGIS exports it): a Polygon, a Feature, or a \
                FeatureCollection holding one polygon.
                """)
        @OptionGroup var address: DaemonAddress
        @OptionGroup var output: OutputFormat
        @OptionGroup var filter: UnitFilterOptions
        @Option(name: .long, help: "The box as W,S,E,N in degrees.") var bbox: String?
        @Option(name: .long, help: "A GeoJSON file holding one polygon.") var polygon: String?

        func validate() throws {
            switch (bbox, polygon) {
            case (nil, nil): throw ArgumentParser.ValidationError("give --bbox W,S,E,N or --polygon FILE.geojson")
            case (.some, .some): throw ArgumentParser.ValidationError("--bbox and --polygon exclude each other")
            case (let bbox?, nil): _ = try checked { () throws(Failure) in try parseBox(bbox) }
            case (nil, .some): break
            }
        }

        func run() async throws {
            try await reportingFailures { () throws(Failure) in
                let request: APIRequest
                if let polygon {
                    let text: String
                    do { text = try String(contentsOfFile: polygon, encoding: .utf8) } catch {
                        throw Failure(exitStatus: Failure.badInput, "cannot read \(polygon): \(error.localizedDescription)")
                    }
                    request = .units(inPolygon: try polygonGeometry(fromGeoJSON: text, path: polygon), filter: filter.filter)
                } else {
                    request = .units(in: try parseBox(bbox ?? ""), filter: filter.filter)
                }
                let answer = try await address.client().fetch(request)
                output.print(answer) { unitsTable(answer.document, clock: localClock()) }
            }
        }
    }

    struct Track: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Where a unit has been, from the stored pings.",
            discussion: """
                Times are now, a time before now (-30m, -2h, -1d, -1h30m) or RFC 3339 \
                (2026-11-23T10:00:00Z). Example: hypervisionctl units track PN-12 --from -2h --simplify 10 --geojson > track.geojson
                """)
        @OptionGroup var address: DaemonAddress
        @OptionGroup var output: OutputFormat
        @Argument(help: "The unit's id.") var id: String
        @Option(name: .long, help: "Start of the window.") var from: String = "-1h"
        @Option(name: .long, help: "End of the window.") var to: String = "now"
        @Option(name: .long, help: "Simplify the line to this tolerance in metres.") var simplify: Double?
        @Flag(name: .long, help: "Every ping as a point with its speed and heading, instead of a line.") var points = false

        func validate() throws {
            _ = try checked { () throws(Failure) in
                _ = try unitID(id)
                _ = try parseTimeWindow(from: from, to: to, now: currentSecond())
            }
            if let simplify, !(simplify >= 0 && simplify.isFinite) {
                throw ArgumentParser.ValidationError("--simplify must be a tolerance in metres, 0 or more")
            }
            if simplify != nil && points { throw ArgumentParser.ValidationError("--simplify applies to the line, not to --points") }
        }

        func run() async throws {
            try await reportingFailures { () throws(Failure) in
                let window = try parseTimeWindow(from: from, to: to, now: currentSecond())
                let request = APIRequest.track(try unitID(id), from: window.from, to: window.to, simplify: simplify, points: points)
                let answer = try await address.client().fetch(request)
                output.print(answer) { trackTable(answer.document, clock: localClock()) }
            }
        }
    }
}

/// Filters shared by the unit searches.
struct UnitFilterOptions: ParsableArguments {
    @Option(name: .long, help: "Only these statuses, comma-separated (available,patrol).") var status: String?
    @Option(name: .long, help: "Only this agency.") var agency: String?
    @Option(name: .long, help: "Only this kind of unit.") var kind: String?
    @Flag(inversion: .prefixedNo, help: "Only stale units, or with --no-stale only fresh ones.") var stale: Bool?
    @Option(name: .long, help: "At most this many units.") var limit: Int?

    func validate() throws {
        if let limit, limit < 1 { throw ArgumentParser.ValidationError("--limit must be at least 1") }
    }

    var filter: UnitFilter {
        UnitFilter(
            statuses: (status ?? "").split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty },
            agency: agency, kind: kind, stale: stale, limit: limit)
    }
}

/// A unit id checked before any request, with the id in the message.
func unitID(_ text: String) throws(Failure) -> UnitID {
    do { return try UnitID(text.trimmingCharacters(in: .whitespaces)) } catch {
        throw .usage("unit id expected, got \(text.isEmpty ? "nothing" : text): \(error.message)")
    }
}
