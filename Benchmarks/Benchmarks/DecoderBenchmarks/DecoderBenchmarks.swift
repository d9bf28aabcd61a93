import Benchmark
import HypervisionCore
import HypervisionIngest

/// Decode rate of every ingest protocol on one core, bytes to raw pings ready for validation.
/// Targets (issue 3): at least 500,000 JSON pings/s and 200,000 CoT events/s per core.
/// Each iteration decodes 1,000 messages, so throughput x 1,000 is messages per second.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(3))

    func ping(_ i: Int) -> String {
        #"{"unit":"PN-75-BAC-\#(i % 500)","time":"2026-11-23T10:00:\#(10 + i % 50).250Z","lat":48.8\#(i % 10)66,"lon":2.35\#(i % 10)2,"alt":35,"speed":12.5,"heading":270,"accuracy":8,"status":"available","battery":81}"#
    }
    let array = Array(("[" + (0..<1_000).map(ping).joined(separator: ",") + "]").utf8)
    let ndjson = Array(((0..<1_000).map(ping).joined(separator: "\n") + "\n").utf8)
    let lines = (0..<1_000).map { Array(ping($0).utf8) }
    let json = JSONPingDecoder(limits: .init(maximumItems: 10_000))

    Benchmark("JSON: array of 1,000 pings") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try? json.decodeDocument(array)) }
    }
    Benchmark("NDJSON: 1,000 lines") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try? json.decodeNDJSON(ndjson)) }
    }
    Benchmark("JSON: 1,000 single-ping lines (TCP/UDP path)") { benchmark in
        for _ in benchmark.scaledIterations {
            for line in lines { blackHole(json.decodeLine(line)) }
        }
    }

    let osmand = OsmAndDecoder()
    let queries = (0..<1_000).map {
        "id=PN-75-BAC-\($0 % 500)&lat=48.85\($0 % 10)6&lon=2.352\($0 % 10)&timestamp=17638\($0 % 10)2000&speed=12.5&bearing=270&altitude=35&accuracy=8&batt=81"
    }
    Benchmark("OsmAnd: 1,000 query strings") { benchmark in
        for _ in benchmark.scaledIterations {
            for query in queries { blackHole(osmand.decodeParameters(query)) }
        }
    }

    func withChecksum(_ body: String) -> String {
        let sum = body.utf8.reduce(UInt8(0)) { $0 ^ $1 }
        let hex = String(sum, radix: 16, uppercase: true)
        return "$" + body + "*" + (hex.count == 1 ? "0" + hex : hex)
    }
    let sentences = (0..<1_000).map {
        withChecksum("GPRMC,1219\($0 % 10)0.00,A,4851.3\($0 % 10)0,N,00221.120,E,12.5,270.0,231126,,,A")
    }
    Benchmark("NMEA: 1,000 RMC sentences") { benchmark in
        for _ in benchmark.scaledIterations {
            for sentence in sentences { blackHole(NMEA.parseRMC(sentence)) }
        }
    }

    func event(_ i: Int) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?><event version="2.0" uid="GN-64-PSIG-\(i % 500)" type="a-f-G-U-C" how="m-g" \
        time="2026-11-23T10:00:\(10 + i % 50).000Z" start="2026-11-23T10:00:\(10 + i % 50).000Z" stale="2026-11-23T10:05:00.000Z">\
        <point lat="43.48\(i % 10)" lon="-1.55\(i % 10)" hae="12.0" ce="8.0" le="9999999.0"/>\
        <detail><contact callsign="PSIG 3"/><track speed="12.5" course="270.0"/></detail></event>
        """
    }
    let events = (0..<1_000).map { Array(event($0).utf8) }
    let stream = events.reduce(into: [UInt8]()) { $0 += $1 }
    let cot = CoTDecoder()
    Benchmark("CoT: decode 1,000 events") { benchmark in
        for _ in benchmark.scaledIterations {
            for event in events { blackHole(cot.decode(event)) }
        }
    }
    Benchmark("CoT: frame and decode 1,000 events from a TCP stream") { benchmark in
        for _ in benchmark.scaledIterations {
            var framer = CoTFramer()
            if let frames = try? framer.append(stream) {
                for frame in frames { blackHole(cot.decode(frame)) }
            }
        }
    }
}
