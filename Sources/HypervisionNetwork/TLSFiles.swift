import HypervisionConfiguration
import NIOSSL

/// PEM files that put TLS on a TCP port (`<port>.tls.certificate` and `.key`), with client
/// certificates checked against `.clientCA` when presented, or always with
/// `.requireClientCertificate`.
public struct TLSFiles: Sendable, Hashable {
    /// Where these settings live (`ingest.tcp.tls`, say); errors name the keys under it.
    public let prefix: String
    public var certificate = ""
    public var key = ""
    public var clientCA = ""
    public var requireClientCertificate = false

    public init(prefix: String) { self.prefix = prefix }

    public var isEnabled: Bool { !certificate.isEmpty }

    /// The configuration keys under `prefix` (`subscriptions.tls`, say).
    public static func keys(_ prefix: String) -> [String] {
        ["certificate", "key", "clientCA", "requireClientCertificate"].map { "\(prefix).\($0)" }
    }

    /// Reads `<prefix>.certificate`, `.key`, `.clientCA` and `.requireClientCertificate`.
    public init(_ r: SectionReader, prefix: String) throws(ConfigurationError) {
        self.prefix = prefix
        certificate = r.string(prefix + ".certificate", default: "")
        key = r.string(prefix + ".key", default: "")
        clientCA = r.string(prefix + ".clientCA", default: "")
        requireClientCertificate = try r.bool(prefix + ".requireClientCertificate", default: false)
        if certificate.isEmpty != key.isEmpty {
            throw ConfigurationError(key: prefix + ".key", problem: "TLS needs both \(prefix).certificate and \(prefix).key")
        }
        if certificate.isEmpty && (!clientCA.isEmpty || requireClientCertificate) {
            throw ConfigurationError(key: prefix + ".clientCA", problem: "client certificates need TLS (\(prefix).certificate and key)")
        }
        if requireClientCertificate && clientCA.isEmpty {
            throw ConfigurationError(key: prefix + ".requireClientCertificate", problem: "requiring client certificates needs \(prefix).clientCA")
        }
    }

    /// The server side of TLS from these files (TLS 1.2 or later), nil when TLS is off. A file
    /// that cannot be read or does not hold what it should is an error naming the key.
    public func serverConfiguration() throws(ConfigurationError) -> TLSConfiguration? {
        guard isEnabled else { return nil }
        do {
            var tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
            tls.minimumTLSVersion = .tlsv12
            if !clientCA.isEmpty {
                tls.trustRoots = .file(clientCA)
                tls.certificateVerification = requireClientCertificate ? .noHostnameVerification : .optionalVerification
            }
            // A CA file that is missing or not PEM fails here rather than at the first handshake.
            _ = try NIOSSLContext(configuration: tls)
            return tls
        } catch {
            throw ConfigurationError(key: prefix + ".certificate", problem: "cannot load the TLS certificate, key or client CA: \(error)")
        }
    }
}
