import HypervisionCLI
import HypervisionCore
import Testing

@Suite struct RequestTests {
    let paris = GeoPoint(latitude: 48.8566, longitude: 2.3522)
    let from = Timestamp(rfc3339: "2026-11-23T09:00:00Z")!
    let to = Timestamp(rfc3339: "2026-11-23T10:00:00.5Z")!

    @Test func unitSearches() throws {
        #expect(APIRequest.unit(try UnitID("PN-75:BAC.12")).url(base: "http://h:8080") == "http://h:8080/api/v1/units/PN-75:BAC.12")
        #expect(APIRequest.units(near: paris, radius: 500).target == "/api/v1/units?near=48.8566,2.3522&radius=500")
        #expect(APIRequest.units(nearest: paris, count: 3).target == "/api/v1/units?nearest=48.8566,2.3522&k=3")
        #expect(APIRequest.units(nearest: paris, count: nil).target == "/api/v1/units?nearest=48.8566,2.3522")
        let box = try BoundingBox(west: 2.25, south: 48.81, east: 2.42, north: 48.9)
        #expect(APIRequest.units(in: box).target == "/api/v1/units?bbox=2.25,48.81,2.42,48.9")
    }

    @Test func filtersFollowThePlace() {
        let filter = UnitFilter(statuses: ["available", "patrol"], agency: "PN", kind: "car", stale: false, limit: 20)
        #expect(
            APIRequest.units(near: paris, radius: 1500.5, filter: filter).target
                == "/api/v1/units?near=48.8566,2.3522&radius=1500.5&status=available,patrol&agency=PN&kind=car&stale=false&limit=20")
    }

    @Test func polygonSearchPostsTheGeometry() {
        let polygon: JSONValue = ["type": "Polygon", "coordinates": [[[2, 48], [3, 48], [3, 49], [2, 48]]]]
        let request = APIRequest.units(inPolygon: polygon)
        #expect(request.method == .post)
        #expect(request.target == "/api/v1/units/search")
        #expect(String(decoding: request.body ?? [], as: UTF8.self) == #"{"coordinates":[[[2,48],[3,48],[3,49],[2,48]]],"type":"Polygon"}"#)
    }

    @Test func trackAsLineOrPoints() throws {
        let id = try UnitID("PN-12")
        #expect(
            APIRequest.track(id, from: from, to: to, simplify: 10, points: false).target
                == "/api/v1/units/PN-12/track?from=2026-11-23T09:00:00Z&to=2026-11-23T10:00:00.500Z&simplify=10&format=line")
        #expect(
            APIRequest.track(id, from: from, to: to, simplify: nil, points: true).target
                == "/api/v1/units/PN-12/track?from=2026-11-23T09:00:00Z&to=2026-11-23T10:00:00.500Z&format=points")
    }

    @Test func camerasIncidentsZones() throws {
        #expect(APIRequest.cameras(covering: paris).target == "/api/v1/cameras?covering=48.8566,2.3522")
        #expect(
            APIRequest.incidents(status: "active", category: "road accident", service: nil, limit: 5).target
                == "/api/v1/incidents?status=active&category=road%20accident&limit=5")
        #expect(APIRequest.dossier(incident: "INC/42").target == "/api/v1/incidents/INC%2F42/dossier")
        let box = try BoundingBox(west: 2, south: 48, east: 3, north: 49)
        #expect(
            APIRequest.zoneStatistics(box: box, size: 500, from: from, to: to, layer: "incidents").target
                == "/api/v1/zones/stats?cell=hex&size=500&from=2026-11-23T09:00:00Z&to=2026-11-23T10:00:00.500Z&layer=incidents&bbox=2,48,3,49")
    }

    @Test func percentEncodingKeepsReadableCharactersAndEncodesPlus() {
        #expect(percentEncoded("2026-11-23T10:00:00+01:00") == "2026-11-23T10:00:00%2B01:00")
        #expect(percentEncoded("a b&c=d/é") == "a%20b%26c%3Dd%2F%C3%A9")
    }
}

@Suite struct PolygonInputTests {
    let square = "[[2,48],[3,48],[3,49],[2,49],[2,48]]"

    @Test func acceptsGeometryFeatureAndSinglePolygonCollection() throws {
        let expected: JSONValue = ["type": "Polygon", "coordinates": [[[2, 48], [3, 48], [3, 49], [2, 49], [2, 48]]]]
        #expect(try polygonGeometry(fromGeoJSON: #"{"type":"Polygon","coordinates":[\#(square)]}"#, path: "p") == expected)
        let feature = #"{"type":"Feature","properties":{"name":"zone"},"geometry":{"type":"Polygon","coordinates":[\#(square)]}}"#
        #expect(try polygonGeometry(fromGeoJSON: feature, path: "p") == expected)
        let collection = #"{"type":"FeatureCollection","features":[\#(feature)]}"#
        #expect(try polygonGeometry(fromGeoJSON: collection, path: "p") == expected)
        let multi = #"{"type":"MultiPolygon","coordinates":[[\#(square)]]}"#
        #expect(try polygonGeometry(fromGeoJSON: multi, path: "p") == expected)
    }

    @Test func explainsWhatIsWrongWithTheFile() {
        #expect(message { try polygonGeometry(fromGeoJSON: "{", path: "z.geojson") }.hasPrefix("z.geojson: not JSON"))
        #expect(message { try polygonGeometry(fromGeoJSON: #"{"type":"Point","coordinates":[2,48]}"#, path: "z.geojson") }
            == "z.geojson: a GeoJSON Polygon, Feature or FeatureCollection expected, found type Point")
        #expect(message { try polygonGeometry(fromGeoJSON: #"{"type":"FeatureCollection","features":[]}"#, path: "z") }
            == "z: a FeatureCollection with exactly one polygon expected, found 0")
        #expect(message { try polygonGeometry(fromGeoJSON: #"{"type":"Polygon","coordinates":[[[2,48],[3,48],[3,49],[2,49]]]}"#, path: "z") }
            == "z: the outer ring is not closed: its last position must repeat its first")
        #expect(message { try polygonGeometry(fromGeoJSON: #"{"type":"Polygon","coordinates":[[[2,48],[3,48],[2,48]]]}"#, path: "z") }
            == "z: the outer ring needs at least 4 positions (a closed triangle)")
        #expect(message { try polygonGeometry(fromGeoJSON: #"{"type":"Polygon","coordinates":[[[652000,6862000],[3,48],[3,49],[652000,6862000]]]}"#, path: "z") }
            == "z: the outer ring, position 1: [652000, 6862000] is not [longitude, latitude] in degrees (is the file in WGS 84, EPSG:4326?)")
    }

    @Test func badFilesExitWith65() {
        do {
            _ = try polygonGeometry(fromGeoJSON: "[]", path: "z")
            Issue.record("expected a failure")
        } catch {
            #expect(error.exitStatus == 65)
        }
    }
}
