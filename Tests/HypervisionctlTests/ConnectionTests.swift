import HypervisionCLI
import Testing

@Suite struct ConnectionSettingsTests {
    struct Unreadable: Error, CustomStringConvertible { var description: String { "permission denied" } }

    func resolve(
        url: String? = nil, token: String? = nil, environment: [String: String] = [:], files: [String: String] = [:]
    ) throws(Failure) -> ConnectionSettings {
        try ConnectionSettings.resolve(url: url, token: token, environment: environment, home: "/home/op") { files[$0] }
    }

    @Test func flagsWinOverEnvironmentOverFilesOverDefault() throws {
        let files = ["/home/op/.config/hypervision/ctl.yaml": "url: http://file:1\ntoken: from-file\n"]
        let environment = ["HYPERVISION_URL": "http://env:2", "HYPERVISION_TOKEN": "from-env"]
        let flagged = try resolve(url: "http://flag:3/", token: "from-flag", environment: environment, files: files)
        #expect(flagged == ConnectionSettings(baseURL: "http://flag:3", token: "from-flag", tokenSource: "--token"))
        let fromEnvironment = try resolve(environment: environment, files: files)
        #expect(fromEnvironment == ConnectionSettings(baseURL: "http://env:2", token: "from-env", tokenSource: "HYPERVISION_TOKEN"))
        let fromFile = try resolve(files: files)
        #expect(
            fromFile
                == ConnectionSettings(
                    baseURL: "http://file:1", token: "from-file", tokenSource: "/home/op/.config/hypervision/ctl.yaml"))
        #expect(try resolve() == ConnectionSettings(baseURL: "http://127.0.0.1:8080", token: nil))
    }

    @Test func eachKeyResolvesOnItsOwnAndEmptyVariablesCountAsUnset() throws {
        let files = ["/etc/hypervision/ctl.yaml": "token: 'system-token'\n"]
        let settings = try resolve(url: "http://flag:3", environment: ["HYPERVISION_TOKEN": ""], files: files)
        #expect(settings == ConnectionSettings(baseURL: "http://flag:3", token: "system-token", tokenSource: "/etc/hypervision/ctl.yaml"))
    }

    @Test func theUserFileShadowsTheSystemFile() throws {
        let files = [
            "/home/op/.config/hypervision/ctl.yaml": "url: http://mine:1\n",
            "/etc/hypervision/ctl.yaml": "url: http://system:2\ntoken: system\n",
        ]
        #expect(try resolve(files: files) == ConnectionSettings(baseURL: "http://mine:1", token: nil))
    }

    @Test func anUnreadableFileIsAConfigurationFailure() {
        do {
            _ = try ConnectionSettings.resolve(url: nil, token: nil, environment: [:], home: "/home/op") { _ in throw Unreadable() }
            Issue.record("expected a failure")
        } catch {
            #expect(error.exitStatus == Failure.badConfiguration)
            #expect(error.message == "cannot read /home/op/.config/hypervision/ctl.yaml: permission denied")
        }
    }

    @Test func readsTheMinimalYAML() throws {
        let text = """
            # hypervisionctl
            ---
            url: "https://hv.example:8443"   
            token: hv_0123 # the ops token
            \r
            """
        #expect(try parseConfiguration(text, path: "ctl.yaml") == ["url": "https://hv.example:8443", "token": "hv_0123"])
    }

    @Test func refusesYAMLItWouldMisread() {
        #expect(message { try parseConfiguration("urll: x\n", path: "ctl.yaml") } == "ctl.yaml:1: unknown key urll (known: url, token)")
        #expect(message { try parseConfiguration("auth:\n  token: x\n", path: "ctl.yaml") }.hasPrefix("ctl.yaml:1: unknown key auth"))
        #expect(message { try parseConfiguration("url: x\n  token: y\n", path: "c") }
            == "c:2: expected a top-level line like `url: http://127.0.0.1:8080`")
        #expect(message { try parseConfiguration("token: \"abc\n", path: "c") } == "c:1: unterminated quoted value")
    }

    @Test func baseURLsAreCheckedAndTrimmed() throws {
        #expect(try validateBaseURL("http://127.0.0.1:8080/") == "http://127.0.0.1:8080")
        #expect(try validateBaseURL("https://hv.example/prefix") == "https://hv.example/prefix")
        #expect(message { try validateBaseURL("127.0.0.1:8080") } == "the daemon URL must start with http:// or https://, got 127.0.0.1:8080")
        #expect(message { try validateBaseURL("http://") } == "the daemon URL http:// has no host")
        #expect(message { try validateBaseURL("http://h/?a=1") }.hasSuffix("must be a plain base address like http://127.0.0.1:8080"))
    }
}
