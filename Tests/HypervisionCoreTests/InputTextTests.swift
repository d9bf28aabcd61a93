import HypervisionCore
import Testing

@Suite struct InputTextTests {
    @Test(arguments: ["0", "-0", "48.8566", "-2.35", "1e3", "1E-7", "2.5e+2", "048.8"])
    func decimalsAreNumbers(text: String) {
        #expect(Double(decimalText: text) == Double(text))
    }

    @Test(arguments: ["", "0x1p3", "0x10", "nan", "NaN", "inf", "-infinity", "+5", ".5", "5.", "1e", "1e400", " 1", "1 ", "1,5", "١"])
    func anythingElseIsNot(text: String) {
        #expect(Double(decimalText: text) == nil)
    }

    @Test func controlCharactersAreNamedWithTheirPosition() {
        #expect(throws: Never.self) { try InputText.check("Rivoli × Louvre", field: "name") }
        #expect(throws: ValidationError(.controlCharacter, "name holds the control character U+0000 at character 3")) {
            try InputText.check("abc\u{0}", field: "name")
        }
        #expect(throws: ValidationError.self) { try InputText.check("a\u{85}b", field: "name") }  // C1 NEL
        #expect(throws: ValidationError.self) { try InputText.check("a\nb", field: "name") }
        #expect(throws: Never.self) { try InputText.check("a\nb\tc\r\n", field: "summary", allowingLineBreaks: true) }
        #expect(throws: ValidationError.self) { try InputText.check("a\u{7F}", field: "summary", allowingLineBreaks: true) }
    }

    @Test func storableTimesAreYearsOneToNineThousandNineHundredNinetyNine() throws {
        #expect(try Timestamp.parseStorable("0001-01-01T00:00:00Z", field: "t") == Timestamp.storableRange.lowerBound)
        #expect(try Timestamp.parseStorable("9999-12-31T23:59:59.999999Z", field: "t") == Timestamp.storableRange.upperBound)
        for text in ["0000-12-31T23:59:59Z", "0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00", "2026-13-01T00:00:00Z"] {
            #expect(throws: ValidationError.self) { try Timestamp.parseStorable(text, field: "t") }
        }
        // Every storable instant reads back from its own text.
        for time in [Timestamp.storableRange.lowerBound, Timestamp.storableRange.upperBound, Timestamp(seconds: 0)] {
            #expect(Timestamp(rfc3339: time.rfc3339) == time)
        }
    }
}
