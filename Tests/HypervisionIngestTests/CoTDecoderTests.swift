import HypervisionCore
import Testing

@testable import HypervisionIngest

// MARK: - Samples

/// ATAK's shape: prolog, double quotes, `9999999.0` for an unknown linear error.
private let atak =
    #"<?xml version="1.0" standalone="yes"?><event version="2.0" uid="ANDROID-PN-75-BAC-12" type="a-f-G-U-C" how="m-g" time="2026-11-23T10:00:00.250Z" start="2026-11-23T10:00:00.250Z" stale="2026-11-23T10:05:00Z"><point lat="48.8566" lon="2.3522" hae="35.0" ce="8.0" le="9999999.0"/><detail><contact callsign="BAC 12"/><track speed="12.5" course="270.0"/><status battery="81"/><__group name="Cyan" role="Team Member"/></detail></event>"#

private let atakEvent = CoTEvent(
    ping: RawPing(
        unit: "ANDROID-PN-75-BAC-12", time: "2026-11-23T10:00:00.250Z", latitude: 48.8566, longitude: 2.3522,
        altitude: 35, speed: 12.5, heading: 270, accuracy: 8, battery: 81),
    callsign: "BAC 12", type: "a-f-G-U-C", stale: "2026-11-23T10:05:00Z")

/// WinTAK's shape: no prolog, single quotes, line breaks and indentation, more detail elements
/// (one holding a `point` of its own, which is not the event's position), a comment.
private let wintak = """
    <event version='2.0' uid='S-1-5-21-942292099-3747883346-3641641706-1000' type='a-f-G-U-C' time='2026-11-23T10:01:02.5Z'
           start='2026-11-23T10:01:02.5Z' stale='2026-11-23T10:07:02.5Z' how='h-e'>
      <point lat='-33.8688' lon='151.2093' hae='9999999.0' ce='9999999.0' le='9999999.0'/>
      <!-- position from the map -->
      <detail>
        <takv os='Microsoft Windows 10 Enterprise' version='4.10.0.163' device='DESKTOP' platform='WinTAK-CIV'/>
        <contact endpoint='192.0.2.7:4242:tcp' callsign='WIN &amp; TAK'/>
        <link uid='OTHER-1' relation='p-p' type='a-f-G'><point lat='1' lon='2'/></link>
        <uid Droid='WIN TAK'/>
        <precisionlocation altsrc='DTED0' geopointsrc='USER'/>
        <__group role='HQ' name='Dark Blue'/>
        <remarks>Line one &amp; two</remarks>
        <track course='9999999.0' speed='0.0'/>
      </detail>
    </event>

    """

/// iTAK's shape: a UTF-8 callsign, no `time` (only `start`), extra unknown attributes and elements.
private let itak =
    #"<?xml version="1.0" encoding="UTF-8"?>"#
    + #"<event version="2.0" uid="C8A1E0E2-7F0B-4E1F-9B3A-1D2C3B4A5F60" type="a-f-G-E-V-C" start="2026-11-23T10:02:00Z" stale="2026-11-23T10:04:00Z" how="m-g" access="Undefined">"#
    + #"<point lat="35.6762" lon="139.6503" hae="40.25" ce="4.9" le="2.0"/>"#
    + #"<detail><contact callsign="Zoë 東京" phone="+81-3-0000"/><status battery="57" readiness="true"/>"#
    + #"<track course="45.5" speed="1.25" slope="0"/><fileshare/><ble_proxy enabled="false"><inner deeper="yes"/></ble_proxy></detail></event>"#

// MARK: - Helpers

private func decode(_ text: String, _ decoder: CoTDecoder = .init()) -> Result<CoTEvent, ValidationError> {
    decoder.decode(Array(text.utf8))
}

private func event(_ text: String, _ decoder: CoTDecoder = .init()) throws -> CoTEvent {
    try decode(text, decoder).get()
}

private func failure(_ bytes: [UInt8], _ decoder: CoTDecoder = .init()) -> ValidationError? {
    switch decoder.decode(bytes) {
    case .success(let event):
        Issue.record("expected a failure, decoded \(event)")
        return nil
    case .failure(let error):
        return error
    }
}

private func failure(_ text: String, _ decoder: CoTDecoder = .init()) -> ValidationError? {
    failure(Array(text.utf8), decoder)
}

/// A minimal valid event with `detail` inserted in `<detail>`.
private func withDetail(_ detail: String, point: String = #"<point lat="1.5" lon="2.5"/>"#) -> String {
    #"<event uid="U-1" type="a-f-G" time="2026-11-23T10:00:00Z">\#(point)<detail>\#(detail)</detail></event>"#
}

private func limits(
    eventBytes: Int = 65_536, depth: Int = 16, attributes: Int = 32, valueBytes: Int = 1_024
) -> CoTDecoder {
    CoTDecoder(
        limits: .init(
            maximumEventBytes: eventBytes, maximumDepth: depth, maximumAttributes: attributes,
            maximumValueBytes: valueBytes))
}

// MARK: - Framer helpers

private let first = Array(#"<event uid="A" time="2026-11-23T10:00:00Z"><point lat="1" lon="2"/><detail><contact callsign="x>y"/></detail></event>"#.utf8)
private let second = Array(#"<event uid='B'><point lat='3' lon='4'/><detail/></event>"#.utf8)

private func frame(_ chunks: [[UInt8]], maximumEventBytes: Int = 65_536) throws(ValidationError) -> [[UInt8]] {
    var framer = CoTFramer(maximumEventBytes: maximumEventBytes)
    var events: [[UInt8]] = []
    for chunk in chunks { events += try framer.append(chunk) }
    try framer.finish()
    return events
}

private func frameError(_ chunks: [[UInt8]], maximumEventBytes: Int = 65_536) -> ValidationError? {
    do {
        let events = try frame(chunks, maximumEventBytes: maximumEventBytes)
        Issue.record("expected a framing error, framed \(events.count) events")
        return nil
    } catch {
        return error
    }
}

@Suite struct CoTDecoderTests {
    // MARK: - Producers

    @Test func decodesTheATAKExample() throws {
        #expect(try event(atak) == atakEvent)
    }

    @Test func decodesWinTAKStyleWithSingleQuotesUnknownElementsAndSentinels() throws {
        let decoded = try event(wintak)
        #expect(
            decoded
                == CoTEvent(
                    ping: RawPing(
                        unit: "S-1-5-21-942292099-3747883346-3641641706-1000", time: "2026-11-23T10:01:02.5Z",
                        latitude: -33.8688, longitude: 151.2093, speed: 0),
                    callsign: "WIN & TAK", type: "a-f-G-U-C", stale: "2026-11-23T10:07:02.5Z"))
    }

    @Test func decodesITAKStyleWithUTF8AndStartAsTheTime() throws {
        #expect(
            try event(itak)
                == CoTEvent(
                    ping: RawPing(
                        unit: "C8A1E0E2-7F0B-4E1F-9B3A-1D2C3B4A5F60", time: "2026-11-23T10:02:00Z", latitude: 35.6762,
                        longitude: 139.6503, altitude: 40.25, speed: 1.25, heading: 45.5, accuracy: 4.9, battery: 57),
                    callsign: "Zoë 東京", type: "a-f-G-E-V-C", stale: "2026-11-23T10:04:00Z"))
    }

    @Test func timeWinsOverStartAndOrderDoesNotMatter() throws {
        let text = #"<event start="2026-01-01T00:00:00Z" time="2026-01-02T00:00:00Z" uid="A"><point lon="2" lat="1"/></event>"#
        let decoded = try event(text)
        #expect(decoded.ping.time == "2026-01-02T00:00:00Z")
        #expect(decoded.ping.latitude == 1 && decoded.ping.longitude == 2)
    }

    @Test func aBareEventLeavesTheOptionalFieldsNil() throws {
        #expect(try event(#"<event><point lat="0" lon="-0.5"/></event>"#) == CoTEvent(ping: RawPing(latitude: 0, longitude: -0.5)))
    }

    @Test func theDecoderReadsFromTheMiddleOfALargerBuffer() throws {
        let bytes = Array("garbage".utf8) + Array(atak.utf8) + Array("more garbage".utf8)
        let decoded = bytes.withUnsafeBytes { buffer in
            CoTDecoder().decode(UnsafeRawBufferPointer(rebasing: buffer[7..<(7 + atak.utf8.count)]))
        }
        #expect(try decoded.get() == atakEvent)
    }

    @Test func elementsOutsideTheirPlaceAreIgnored() throws {
        // A `track` directly under `event`, a `contact` inside an unknown element and a `point`
        // inside `detail` are not where CoT puts them.
        let text = #"<event uid="A"><track speed="99"/><point lat="1" lon="2"/><detail><x><contact callsign="no"/></x><point lat="5" lon="6"/></detail></event>"#
        #expect(try event(text) == CoTEvent(ping: RawPing(unit: "A", latitude: 1, longitude: 2)))
    }

    // MARK: - Numbers and sentinels

    @Test(arguments: ["9999999.0", "9999999", "999999", "9999999.00", "9.999999E6", ""])
    func unknownMarkersBecomeNil(_ marker: String) throws {
        let text = withDetail(
            #"<track speed="\#(marker)" course="\#(marker)"/><status battery="\#(marker)"/>"#,
            point: #"<point lat="1" lon="2" hae="\#(marker)" ce="\#(marker)" le="\#(marker)"/>"#)
        let ping = try event(text).ping
        #expect(ping.altitude == nil && ping.accuracy == nil && ping.speed == nil && ping.heading == nil && ping.battery == nil)
        #expect(ping.latitude == 1 && ping.longitude == 2)
    }

    @Test func nearSentinelsAreKept() throws {
        let text = withDetail(#"<track speed="99999.0" course="0"/>"#, point: #"<point lat="1" lon="2" hae="9999998" ce="0.0"/>"#)
        let ping = try event(text).ping
        #expect(ping.altitude == 9_999_998 && ping.accuracy == 0 && ping.speed == 99_999 && ping.heading == 0)
    }

    @Test func aSentinelCoordinateIsPassedOnForTheValidatorToRefuse() throws {
        #expect(try event(#"<event><point lat="9999999.0" lon="2"/></event>"#).ping.latitude == 9_999_999)
    }

    @Test(arguments: [
        ("-12.5", -12.5), ("+3", 3), (".5", 0.5), ("5.", 5), ("1.0E1", 10), ("2e-3", 0.002), (" 48.25\n", 48.25),
        ("4&#56;.5", 48.5), ("0.1", 0.1), ("-0", -0.0), ("48.85661234567890123", 48.85661234567890123),
        ("4.9406564584124654E-324", .leastNonzeroMagnitude), ("1.7976931348623157e308", .greatestFiniteMagnitude),
    ])
    func numbersInTheirVariousSpellings(_ written: String, _ expected: Double) throws {
        #expect(try event(#"<event><point lat="\#(written)" lon="0"/></event>"#).ping.latitude == expected)
    }

    @Test(arguments: ["abc", "12,5", "NaN", "Infinity", "1e", "--1", "0x10", "1 2", "-", ".", "1.2.3"])
    func aBadNumberIsRefusedNamingItsField(_ written: String) {
        let error = failure(withDetail(#"<track speed="\#(written)"/>"#))
        #expect(error?.code == .valueInvalid)
        #expect(error?.message.contains("track@speed") == true)
    }

    @Test func aBadCoordinateNamesTheCoordinate() {
        let error = failure(#"<event><point lat="48.8" lon="east"/></event>"#)
        #expect(error?.code == .valueInvalid)
        #expect(error?.message.contains("point@lon \"east\"") == true)
        #expect(error?.message.contains("at byte 30") == true)
    }

    // MARK: - Missing parts

    @Test func aMissingPointIsRefusedNamingIt() {
        let error = failure(#"<event uid="A" time="2026-11-23T10:00:00Z"><detail><contact callsign="X"/></detail></event>"#)
        #expect(error?.code == .fieldMissing)
        #expect(error?.message.contains("<point>") == true)
    }

    @Test func aPointWithoutLatOrLonIsRefusedNamingTheAttribute() {
        let noLat = failure(#"<event><point lon="2" hae="3"/></event>"#)
        #expect(noLat?.code == .fieldMissing)
        #expect(noLat?.message.contains("point@lat") == true)
        let noLon = failure(#"<event><point lat="2"></point></event>"#)
        #expect(noLon?.code == .fieldMissing)
        #expect(noLon?.message.contains("point@lon") == true)
    }

    @Test func aMissingUIDAndTimeAreLeftToTheValidator() throws {
        let ping = try event(#"<event><point lat="1" lon="2"/></event>"#).ping
        #expect(ping.unit == nil && ping.time == nil)
    }

    @Test func aSecondPointOrTrackIsRefused() {
        let points = failure(#"<event><point lat="1" lon="2"/><point lat="3" lon="4"/></event>"#)
        #expect(points?.code == .valueInvalid)
        #expect(points?.message.contains("second <point>") == true)
        #expect(failure(withDetail(#"<track speed="1"/><track speed="2"/>"#))?.code == .valueInvalid)
    }

    @Test func anotherRootElementIsNotAnEvent() {
        let error = failure(#"<?xml version="1.0"?><message><point lat="1" lon="2"/></message>"#)
        #expect(error?.code == .notAnEvent)
        #expect(error?.message.contains("<message>") == true)
    }

    // MARK: - Text, entities and characters

    @Test func entitiesAndCharacterReferencesAreDecodedInAttributeValues() throws {
        let text = withDetail(#"<contact callsign="A&amp;B &lt;1&gt; &quot;q&quot; &apos;s&apos; &#65;&#x42;&#x1F600;&#233;"/>"#)
        #expect(try event(text).callsign == #"A&B <1> "q" 's' AB😀é"#)
    }

    @Test func tabsAndLineBreaksInValuesReadAsSpacesButReferencedOnesStay() throws {
        let text = withDetail("<contact callsign='a\tb\r\nc\rd\ne&#10;f'/>")
        #expect(try event(text).callsign == "a b c d e\nf")
    }

    @Test func otherQuoteKindInsideAValueIsPlainText() throws {
        #expect(try event(withDetail(#"<contact callsign='say "hi"'/>"#)).callsign == #"say "hi""#)
        #expect(try event(withDetail(#"<contact callsign="it's a>b"/>"#)).callsign == "it's a>b")
    }

    @Test func aUTF8ByteOrderMarkAndLeadingWhitespaceAreAllowed() throws {
        #expect(try event("\u{FEFF}" + atak) == atakEvent)
        #expect(try event("\n  " + atak + "\r\n") == atakEvent)
    }

    @Test func commentsProcessingInstructionsAndCDATAAreSkipped() throws {
        let text = """
            <?xml version="1.0"?><!-- before --><?producer x?><event uid="A"><!-- <point lat="9" lon="9"/> -->\
            <point lat="1" lon="2"/><detail><remarks><![CDATA[<contact callsign="no"/> & </event>]]></remarks>\
            <?pi inside?></detail></event><!-- after -->\n
            """
        #expect(try event(text) == CoTEvent(ping: RawPing(unit: "A", latitude: 1, longitude: 2)))
    }

    @Test func anUnsupportedEncodingIsRefusedAndUTF8Accepted() throws {
        let latin = failure(#"<?xml version="1.0" encoding="ISO-8859-1"?><event><point lat="1" lon="2"/></event>"#)
        #expect(latin?.code == .xmlInvalid)
        #expect(latin?.message.contains("ISO-8859-1") == true)
        #expect(try event(#"<?xml version='1.0' encoding='utf-8' standalone='yes'?><event><point lat="1" lon="2"/></event>"#).ping.latitude == 1)
        #expect(try event(#"<?xml version="1.0" encoding="US-ASCII"?><event><point lat="1" lon="2"/></event>"#).ping.latitude == 1)
    }

    // MARK: - Security

    @Test func aDoctypeIsRefused() {
        // The classic "billion laughs": never expanded, refused at the declaration.
        let laughs = """
            <?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>\
            <event uid="&lol2;"><point lat="1" lon="2"/></event>
            """
        let error = failure(laughs)
        #expect(error?.code == .xmlForbidden)
        #expect(error?.message.contains("DOCTYPE") == true)
        #expect(error?.message.contains("at byte 21") == true)
    }

    @Test func anExternalEntityDoctypeIsRefused() {
        let xxe = #"<!DOCTYPE event [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><event uid="&xxe;"><point lat="1" lon="2"/></event>"#
        #expect(failure(xxe)?.code == .xmlForbidden)
    }

    @Test func entityAndOtherDeclarationsAreRefusedWherever() {
        let entity = failure(#"<!ENTITY x "y"><event><point lat="1" lon="2"/></event>"#)
        #expect(entity?.code == .xmlForbidden)
        #expect(entity?.message.contains("ENTITY") == true)
        #expect(failure(withDetail(#"<!DOCTYPE x>"#))?.code == .xmlForbidden)
        #expect(failure(withDetail(#"<!ELEMENT x ANY>"#))?.code == .xmlForbidden)
    }

    @Test func anUnknownEntityIsRefusedInAnyValueOrText() {
        let inCallsign = failure(withDetail(#"<contact callsign="&lol;"/>"#))
        #expect(inCallsign?.code == .xmlForbidden)
        #expect(inCallsign?.message.contains("&lol;") == true)
        // Also where the decoder reads nothing: an unknown element's attribute, and text.
        #expect(failure(withDetail(#"<unknown a="x&nbsp;y"/>"#))?.code == .xmlForbidden)
        #expect(failure(withDetail(#"<remarks>a &copy; b</remarks>"#))?.code == .xmlForbidden)
    }

    @Test(arguments: ["a & b", "a &amp b", "&#;", "&#xZZ;", "&#0;", "&#xD800;", "&#x110000;", "&#99999999999999;", "&;"])
    func aMalformedReferenceIsInvalid(_ value: String) {
        #expect(failure(withDetail(#"<contact callsign="\#(value)"/>"#))?.code == .xmlInvalid)
    }

    // MARK: - Well-formedness

    @Test func everyTruncationOfAnEventIsRefused() {
        let bytes = Array(atak.utf8)
        for cut in 0..<bytes.count {
            let error = CoTDecoder().decode(Array(bytes[..<cut])).failure
            #expect(error?.code == .xmlInvalid, "cut at \(cut): \(String(describing: error))")
        }
        let cutInside = CoTDecoder().decode(Array(bytes[..<300])).failure
        #expect(cutInside?.message.contains("truncated") == true)
    }

    @Test(arguments: [
        #"<event><point lat="1" lon="2"></event>"#,  // unclosed point
        #"<event><point lat="1" lon="2"/></Event>"#,  // end tag of another name
        #"<event><point lat="1" lon="2"/></event><event/>"#,  // second root
        #"<event><point lat="1" lon="2"/></event>trailing"#,  // text after the root
        #"text<event><point lat="1" lon="2"/></event>"#,  // text before it
        #"<event><point lat="1" lon="2" lat="3"/></event>"#,  // duplicate attribute
        #"<event><point lat=1 lon="2"/></event>"#,  // unquoted value
        #"<event><point lat="1"lon="2"/></event>"#,  // no space between attributes
        #"<event><point lat="1" lon="2/></event>"#,  // unterminated value
        #"<event><point lat="<1" lon="2"/></event>"#,  // '<' in a value
        #"<event><point lat="1" lon="2"/ ></event>"#,  // '/' not followed by '>'
        #"<event><1point lat="1" lon="2"/></event>"#,  // bad name
        #"<event><point lat="1" lon="2"/><!-- a -- b --></event>"#,  // '--' in a comment
        #"<event><point lat="1" lon="2"/></event><?xml version="1.0"?>"#,  // late declaration
        #"<![CDATA[x]]><event><point lat="1" lon="2"/></event>"#,  // CDATA outside the root
        "<event><point lat=\"1\" lon=\"2\"/>\u{01}</event>",  // control character
        #"</event>"#,
        "",
        "   ",
    ])
    func malformedXMLIsRefused(_ text: String) {
        #expect(failure(text)?.code == .xmlInvalid)
    }

    @Test func invalidUTF8IsRefused() {
        let prefix = Array(#"<event><detail><contact callsign=""#.utf8)
        let suffix = Array(#""/></detail><point lat="1" lon="2"/></event>"#.utf8)
        for bad: [UInt8] in [[0xFF], [0xC3], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xEF, 0xBF, 0xBF]] {
            let error = failure(prefix + bad + suffix)
            #expect(error?.code == .xmlInvalid, "bytes \(bad)")
        }
    }

    @Test func syntaxErrorsGiveTheByteOffset() {
        let error = failure(#"<event uid="A"><point lat="1" lon="2"/><detail></detale></event>"#)
        #expect(error?.message == "invalid XML at byte 47: the end tag </detale> does not match the start tag <detail>")
    }

    // MARK: - Limits

    @Test func theSizeLimitIsExact() throws {
        let size = atak.utf8.count
        #expect(try event(atak, limits(eventBytes: size)) == atakEvent)
        let error = failure(atak, limits(eventBytes: size - 1))
        #expect(error?.code == .eventTooLarge)
        #expect(error?.message.contains("\(size) bytes") == true)
    }

    @Test func theDepthLimitIsExact() throws {
        // event (1) > detail (2) > 14 more: 16 levels.
        let nested = { (levels: Int) in withDetail(String(repeating: "<x>", count: levels) + String(repeating: "</x>", count: levels)) }
        #expect(try event(nested(14)).ping.latitude == 1.5)
        let error = failure(nested(15))
        #expect(error?.code == .nestingTooDeep)
        #expect(error?.message.contains("16 levels") == true)
        #expect(failure(nested(2), limits(depth: 3))?.code == .nestingTooDeep)
        #expect(failure(atak, limits(depth: 0))?.code == .nestingTooDeep)
    }

    @Test func veryDeepNestingFailsCleanly() {
        // Far beyond any stack depth a recursive parser would survive, with a huge limit too.
        let depth = 200_000
        let text = "<event>" + String(repeating: "<a>", count: depth) + String(repeating: "</a>", count: depth) + "</event>"
        let decoder = limits(eventBytes: 10_000_000, depth: 1_000_000)
        #expect(failure(text, decoder)?.code == .fieldMissing)  // well-formed, read to the end, no point
        #expect(failure(text)?.code == .eventTooLarge)
        #expect(failure(text, limits(eventBytes: 10_000_000))?.code == .nestingTooDeep)
    }

    @Test func theAttributeLimitIsExact() throws {
        let attributes = { (n: Int) in (0..<n).map { #" a\#($0)="v""# }.joined() }
        #expect(try event(withDetail("<x\(attributes(32))/>")).ping.latitude == 1.5)
        let error = failure(withDetail("<x\(attributes(33))/>"))
        #expect(error?.code == .tooManyAttributes)
        #expect(error?.message.contains("<x> has more than 32 attributes") == true)
        #expect(failure(atak, limits(attributes: 2))?.code == .tooManyAttributes)
    }

    @Test func theValueLengthLimitIsExactAndCountsBytesAsWritten() throws {
        let long = String(repeating: "é", count: 512)  // 1,024 bytes
        #expect(try event(withDetail(#"<contact callsign="\#(long)"/>"#)).callsign == long)
        let error = failure(withDetail(#"<other note="\#(long)x"/>"#))
        #expect(error?.code == .stringTooLong)
        #expect(error?.message.contains("note") == true)
        #expect(failure(withDetail(#"<contact callsign="\#(String(repeating: "&amp;", count: 205))"/>"#))?.code == .stringTooLong)
    }
}

@Suite struct CoTFramerTests {
    @Test func framesTwoEventsAtEverySplitPoint() throws {
        // Whitespace, a prolog and a comment between them; a `>` inside a value in the first.
        let stream = first + Array("\r\n<?xml version=\"1.0\"?>\n<!-- next -->".utf8) + second + Array("\n".utf8)
        for split in 0...stream.count {
            let events = try frame([Array(stream[..<split]), Array(stream[split...])])
            #expect(events == [first, second], "split at \(split)")
        }
    }

    @Test func framesByteByByte() throws {
        let stream = Array(atak.utf8) + first + second
        #expect(try frame(stream.map { [$0] }) == [Array(atak.utf8.drop { $0 != UInt8(ascii: ">") }.dropFirst()), first, second])
    }

    @Test func framedEventsDecode() throws {
        let events = try frame([Array(wintak.utf8) + Array(itak.utf8) + Array(atak.utf8)])
        let decoded = try events.map { try CoTDecoder().decode($0).get() }
        #expect(decoded.map(\.ping.unit) == ["S-1-5-21-942292099-3747883346-3641641706-1000", "C8A1E0E2-7F0B-4E1F-9B3A-1D2C3B4A5F60", "ANDROID-PN-75-BAC-12"])
        #expect(decoded[2] == atakEvent)
    }

    @Test func anEndTagInsideAnAttributeDoesNotEndTheEvent() throws {
        // The '>' before it matters: a framer that ignored quotes would end the tag there and then
        // read the `</event>` as markup.
        let tricky = Array(#"<event uid="A"><point lat="1" lon="2" note='a></event>'/><detail/></event>"#.utf8)
        for split in 0...tricky.count {
            #expect(try frame([Array(tricky[..<split]), Array(tricky[split...]) + second]) == [tricky, second], "split at \(split)")
        }
        // Framed whole, then refused by the decoder, since XML forbids '<' in values.
        #expect(CoTDecoder().decode(tricky).failure?.code == .xmlInvalid)
    }

    @Test func anEndTagInsideACommentCDATAOrInstructionDoesNotEndTheEvent() throws {
        let tricky = Array(
            #"<event uid="A"><!-- a > </event> --><point lat="1" lon="2"/><detail><r><![CDATA[></event>]]></r><?x > </event>?></detail></event>"#.utf8)
        for split in 0...tricky.count {
            #expect(try frame([Array(tricky[..<split]), Array(tricky[split...]) + second]) == [tricky, second], "split at \(split)")
        }
        #expect(try CoTDecoder().decode(tricky).get().ping.unit == "A")
    }

    @Test func nestedEventsAndEmptyEventsAreFramedWhole() throws {
        let nested = Array(#"<event uid="A"><point lat="1" lon="2"/><detail><event uid="inner"><x/></event></detail></event>"#.utf8)
        let empty = Array(#"<event uid="E"/>"#.utf8)
        #expect(try frame([nested + empty + second]) == [nested, empty, second])
    }

    @Test func garbageBeforeAnEventIsRefused() {
        let error = frameError([first + Array("hello".utf8) + second])
        #expect(error?.code == .xmlInvalid)
        #expect(error?.message.contains("stream byte \(first.count)") == true)
        #expect(error?.message.contains("hello") == true)
        #expect(frameError([Array("<message/>".utf8)])?.code == .xmlInvalid)
        #expect(frameError([Array("</event>".utf8)])?.code == .xmlInvalid)
        #expect(frameError([Array(#"<!DOCTYPE x []>"#.utf8) + first])?.code == .xmlForbidden)
    }

    @Test func eventsBeforeGarbageInTheSameReadAreDeliveredAndTheErrorFollows() throws {
        var framer = CoTFramer()
        #expect(try framer.append(first + Array("junk".utf8)) == [first])
        #expect(throws: ValidationError.self) { try framer.append(second) }
        #expect(throws: ValidationError.self) { try framer.finish() }
    }

    @Test func oversizePendingDataIsRefused() throws {
        let limit = first.count
        #expect(try frame([first, first], maximumEventBytes: limit) == [first, first])
        // A complete event one byte over the limit.
        let bigger = Array(#"<event uid="AB" time="2026-11-23T10:00:00Z"><point lat="1" lon="2"/><detail><contact callsign="x>y"/></detail></event>"#.utf8)
        #expect(frameError([bigger], maximumEventBytes: limit)?.code == .eventTooLarge)
        // An event that never ends, in small reads: refused once it passes the limit, not later.
        var framer = CoTFramer(maximumEventBytes: 1_000)
        let endless = Array(#"<event uid="A"><detail>"#.utf8) + Array(repeating: UInt8(ascii: " "), count: 2_000)
        var refusedAt: Int?
        for (i, byte) in endless.enumerated() {
            do { _ = try framer.append([byte]) } catch {
                #expect(error.code == .eventTooLarge)
                refusedAt = i + 1
                break
            }
        }
        #expect(refusedAt == 1_001)
        // The same for a comment between events.
        #expect(frameError([Array("<!--".utf8) + Array(repeating: UInt8(ascii: "-"), count: 100)], maximumEventBytes: 50)?.code == .eventTooLarge)
    }

    @Test func whitespaceBetweenEventsIsNotBuffered() throws {
        var framer = CoTFramer(maximumEventBytes: 100)
        for _ in 0..<1_000 { #expect(try framer.append(Array(repeating: UInt8(ascii: "\n"), count: 64)).isEmpty) }
        #expect(framer.bufferedByteCount == 0)
        #expect(try framer.append(second) == [second])
    }

    @Test func finishReportsATruncatedEvent() throws {
        var framer = CoTFramer()
        #expect(try framer.append(first + Array(second.prefix(10))).count == 1)
        #expect(framer.bufferedByteCount == 10)
        let error = #expect(throws: ValidationError.self) { try framer.finish() }
        #expect(error?.code == .xmlInvalid)
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
