import ArgumentParser
import HypervisionCLI
import HypervisionCore
import Foundation

struct Cameras: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Which cameras see a place.", subcommands: [Covering.self])

    struct Covering: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cameras whose field of view contains a point, nearest first.")
        @OptionGroup var address: DaemonAddress
        @OptionGroup var output: OutputFormat
        @Argument(help: "The point as LAT,LON in degrees.") var point: String

        func validate() throws { _ = try checked { () throws(Failure) in try parsePoint(point) } }

        func run() async throws {
            try await reportingFailures { () throws(Failure) in
                let answer = try await address.client().fetch(.cameras(covering: try parsePoint(point)))
                output.print(answer) { camerasTable(answer.document) }
            }
        }
    }
}

struct Incidents: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Incidents and their dossiers.", subcommands: [List.self, Dossier.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Incidents, newest first.",
            discussion: "Example: hypervisionctl incidents list --status active --category burglary --from -1d")
        @OptionGroup var address: DaemonAddress
        @OptionGroup var output: OutputFormat
        @Option(name: .long, help: "Only this status (open, acknowledged, closed, or active for not closed).")
        var status: String?
        @Option(name: .long, help: "Only this category.") var category: String?
        @Option(name: .long, help: "Only this service.") var service: String?
        @Option(name: .long, help: "Opened at or after (now, -2h, RFC 3339).") var from: String?
        @Option(name: .long, help: "Opened before (now, -2h, RFC 3339).") var to: String?
        @Option(name: .long, help: "Only inside W,S,E,N.") var bbox: String?
        @Option(name: .long, help: "At most this many incidents.") var limit: Int?

        func validate() throws {
            _ = try checked { () throws(Failure) in try window() }
            if let bbox { _ = try checked { () throws(Failure) in try parseBox(bbox) } }
            if let limit, limit < 1 { throw ArgumentParser.ValidationError("--limit must be at least 1") }
        }

        private func window() throws(Failure) -> (Timestamp?, Timestamp?) {
            let now = currentSecond()
            if let from, let to {
                let window = try parseTimeWindow(from: from, to: to, now: now)
                return (window.from, window.to)
            }
            return (try from.map { text throws(Failure) in try parseTime(text, now: now) },
                    try to.map { text throws(Failure) in try parseTime(text, now: now) })
        }

        func run() async throws {
            try await reportingFailures { () throws(Failure) in
                let (start, end) = try window()
                let request = APIRequest.incidents(
                    status: status, category: category, service: service, from: start, to: end,
                    box: try bbox.map { text throws(Failure) in try parseBox(text) }, limit: limit)
                let answer = try await address.client().fetch(request)
                output.print(answer) { incidentsTable(answer.document, clock: localClock()) }
            }
        }
    }

    struct Dossier: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Everything about one incident: nearest units with ETA, cameras, units present, earlier incidents.")
        @OptionGroup var address: DaemonAddress
        @OptionGroup var output: OutputFormat
        @Argument(help: "The incident's id.") var id: String

        func validate() throws {
            guard !id.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw ArgumentParser.ValidationError("the incident id is empty")
            }
        }

        func run() async throws {
            try await reportingFailures { () throws(Failure) in
                let answer = try await address.client().fetch(.dossier(incident: id.trimmingCharacters(in: .whitespaces)))
                output.print(answer, geoJSON: dossierGeoJSON) { dossierText(answer.document, clock: localClock()) }
            }
        }
    }
}

struct Zones: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Where things happen, by hexagonal cell.", subcommands: [Stats.self])

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Counts per hexagonal cell in a window, compared with the window before.",
            discussion: """
                Example: hypervisionctl zones stats --bbox 2.25,48.81,2.42,48.90 --size 500 --from -7d --to now \
                --geojson > zones.geojson
                """)
        @OptionGroup var address: DaemonAddress
        @OptionGroup var output: OutputFormat
        @Option(name: .long, help: "The area as W,S,E,N in degrees.") var bbox: String
        @Option(name: .long, help: "Cell size in metres.") var size: Double
        @Option(name: .long, help: "Start of the window.") var from: String
        @Option(name: .long, help: "End of the window.") var to: String
        @Option(name: .long, help: "What to count: incidents or camera_events.") var layer: String = "incidents"

        func validate() throws {
            _ = try checked { () throws(Failure) in
                _ = try parseBox(bbox)
                _ = try parseTimeWindow(from: from, to: to, now: currentSecond())
            }
            guard size > 0, size.isFinite else { throw ArgumentParser.ValidationError("--size must be a positive number of metres") }
            guard ["incidents", "camera_events"].contains(layer) else {
                throw ArgumentParser.ValidationError("--layer must be incidents or camera_events, got \(layer)")
            }
        }

        func run() async throws {
            try await reportingFailures { () throws(Failure) in
                let window = try parseTimeWindow(from: from, to: to, now: currentSecond())
                let request = APIRequest.zoneStatistics(
                    box: try parseBox(bbox), size: size, from: window.from, to: window.to, layer: layer)
                let answer = try await address.client().fetch(request)
                output.print(answer) { zonesTable(answer.document) }
            }
        }
    }
}
