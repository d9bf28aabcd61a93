import HypervisionCLI
import Testing

@Suite struct ErrorMappingTests {
    let withToken = ConnectionSettings(baseURL: "http://127.0.0.1:8080", token: "hv_x", tokenSource: "HYPERVISION_TOKEN")
    let withoutToken = ConnectionSettings(baseURL: "http://127.0.0.1:8080", token: nil)

    func body(_ code: String, _ message: String) -> [UInt8] {
        Array(#"{"error":{"code":"\#(code)","message":"\#(message)"}}"#.utf8)
    }

    @Test func successIsNoFailure() {
        #expect(failure(status: 200, body: [], settings: withToken) == nil)
        #expect(failure(status: 204, body: [], settings: withToken) == nil)
    }

    @Test func refusedTokensQuoteTheServerAndSayWhereTheTokenCameFrom() {
        let refused = failure(status: 401, body: body("unauthorized", "unknown token"), settings: withToken)
        #expect(refused == Failure(exitStatus: 4, "the token was refused (401): unknown token [unauthorized] (token from HYPERVISION_TOKEN)"))
        let forbidden = failure(status: 403, body: body("forbidden", "query scope required"), settings: withToken)
        #expect(forbidden?.exitStatus == 4)
        #expect(forbidden?.message.hasPrefix("the token was refused (403): query scope required [forbidden]") == true)
    }

    @Test func aMissingTokenSaysHowToGiveOne() {
        let missing = failure(status: 401, body: body("unauthorized", "missing bearer token"), settings: withoutToken)
        #expect(missing?.exitStatus == 4)
        #expect(
            missing?.message
                == "no token given, and hypervisiond wants one (401): missing bearer token [unauthorized]; pass --token, "
                + "set HYPERVISION_TOKEN or add `token:` to ~/.config/hypervision/ctl.yaml")
    }

    @Test func notFoundAndOtherErrors() {
        #expect(
            failure(status: 404, body: body("unit_not_found", "no unit PN-1"), settings: withToken)
                == Failure(exitStatus: 2, "not found (404): no unit PN-1 [unit_not_found]"))
        #expect(
            failure(status: 400, body: body("lat_out_of_range", "lat 95 is outside [-90, 90]"), settings: withToken)
                == Failure(exitStatus: 1, "hypervisiond refused the request (400): lat 95 is outside [-90, 90] [lat_out_of_range]"))
        #expect(
            failure(status: 503, body: body("database_unavailable", "the database is down"), settings: withToken)
                == Failure(exitStatus: 1, "hypervisiond failed (503): the database is down [database_unavailable]"))
    }

    @Test func bodiesThatAreNotTheErrorShapeStillSaySomething() {
        #expect(failure(status: 502, body: Array("Bad Gateway\n<html>".utf8), settings: withToken)?.message == "hypervisiond failed (502): Bad Gateway …")
        #expect(failure(status: 404, body: [], settings: withToken)?.message == "not found (404): not found")
        #expect(failure(status: 500, body: [0xFF, 0xFE], settings: withToken)?.message == "hypervisiond failed (500): internal error")
    }

    @Test func unreachableNamesTheAddressAndTheCause() {
        #expect(
            unreachable("http://127.0.0.1:8080", .connectionRefused)
                == Failure(exitStatus: 3, "cannot reach hypervisiond at http://127.0.0.1:8080: connection refused (is hypervisiond running, and on this port?)"))
        #expect(unreachable("http://h:1", .timedOut(seconds: 5)).message == "cannot reach hypervisiond at http://h:1: no answer within 5 s (see --timeout)")
        #expect(unreachable("http://nowhere:1", .hostNotFound).message == "cannot reach hypervisiond at http://nowhere:1: unknown host")
    }
}
