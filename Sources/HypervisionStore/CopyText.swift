import HypervisionCore
import NIOCore

/// Writes rows in PostgreSQL's `COPY … FROM STDIN` text format.
///
/// The durable writer sends binary rows since schema 5 (``CopyBinaryWriter``); this text form is
/// how it sent them before, and how the benchmarks still fill the 1b71a5c history table they
/// measure against. Escaping is ours: backslash, tab, newline and carriage return inside a value
/// are written as `\\`, `\t`, `\n`, `\r`, and a missing value as `\N`.
public struct CopyTextWriter {
    public private(set) var buffer: ByteBuffer
    private var columnInRow = 0

    public init(capacity: Int = 1 << 16) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    public mutating func text(_ value: String?) {
        separator()
        guard let value else { buffer.writeStaticString("\\N"); return }
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
            case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
            case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
            case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
            default: buffer.writeInteger(byte)
            }
        }
    }

    /// A value known to need no escaping (digits, ids restricted to a safe alphabet).
    public mutating func raw(_ value: String) {
        separator()
        buffer.writeString(value)
    }

    public mutating func double(_ value: Double?) {
        separator()
        guard let value else { buffer.writeStaticString("\\N"); return }
        buffer.writeString(value.description)
    }

    public mutating func integer(_ value: Int?) {
        separator()
        guard let value else { buffer.writeStaticString("\\N"); return }
        buffer.writeString(String(value))
    }

    /// A time in PostgreSQL's text form, written in place.
    public mutating func timestamp(_ value: Timestamp) {
        separator()
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: Timestamp.maximumTextBytes) { raw in
            value.writePostgresText(into: raw.bindMemory(to: UInt8.self))
        }
    }

    /// A point as upper-case hex EWKB with SRID 4326 (``GeoPoint/hexEWKB``), written in place.
    public mutating func point(_ value: GeoPoint) {
        separator()
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 2 * GeoPoint.ewkbByteCount) { raw in
            let out = raw.bindMemory(to: UInt8.self)
            var index = 0
            func put(_ byte: UInt8) {
                out[index] = Self.upperHexDigits[Int(byte >> 4)]
                out[index + 1] = Self.upperHexDigits[Int(byte & 0x0F)]
                index += 2
            }
            for byte in GeoPoint.ewkbHeader { put(byte) }
            withUnsafeBytes(of: value.longitude.bitPattern.littleEndian) { for byte in $0 { put(byte) } }
            withUnsafeBytes(of: value.latitude.bitPattern.littleEndian) { for byte in $0 { put(byte) } }
            return index
        }
    }

    private static let upperHexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    public mutating func endRow() {
        buffer.writeInteger(UInt8(ascii: "\n"))
        columnInRow = 0
    }

    private mutating func separator() {
        if columnInRow > 0 { buffer.writeInteger(UInt8(ascii: "\t")) }
        columnInRow += 1
    }
}

extension CopyTextWriter {
    /// One ping as a row of ``PingStore/pingColumns`` (the history table before schema 5), with
    /// the position as hex EWKB.
    public mutating func pingRow(_ ping: Ping) {
        raw(ping.unit.rawValue)
        timestamp(ping.time)
        point(ping.position)
        double(ping.altitude)
        double(ping.speed)
        double(ping.heading)
        double(ping.accuracy)
        text(ping.status?.rawValue)
        integer(ping.battery)
        timestamp(ping.receivedAt)
        endRow()
    }
}

extension GeoPoint {
    /// Little-endian, type Point with the SRID flag, SRID 4326.
    static let ewkbHeader: [UInt8] = [0x01, 0x01, 0x00, 0x00, 0x20, 0xE6, 0x10, 0x00, 0x00]
    /// The header and two little-endian doubles.
    static let ewkbByteCount = 25

    /// The point as hex-encoded EWKB with SRID 4326, the text form `geography` accepts.
    public var hexEWKB: String {
        var bytes = Self.ewkbHeader
        withUnsafeBytes(of: longitude.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: latitude.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
        return Hex.encode(bytes, uppercase: true)
    }
}
