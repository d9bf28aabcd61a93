/// One module's part of the configuration: the keys it owns and how it reads them. Each module
/// declares its own (the store reads `database.*`, the stream `subscriptions.*` and `walls.*`,
/// and so on); hypervisiond's configuration is the sum of them.
public protocol ConfigurationSection: Sendable {
    /// Every key this section reads. A key in the file that no section claims is refused.
    static var keys: [String] { get }
    /// Reads and validates the section. Errors name the key and the problem.
    init(reader: SectionReader) throws(ConfigurationError)
}
