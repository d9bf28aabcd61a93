import HypervisionCore
import NIOCore

/// Writes rows in PostgreSQL's binary `COPY … FROM STDIN` format.
///
/// The server then parses no text: a time is 8 bytes, a number 4, a position the 25 bytes of its
/// EWKB. Into a table without indexes, binary COPY of ping rows ran at about twice the rate of
/// text COPY on the project's machine; with the history table's primary key, the key costs more
/// than the parsing and the gain is about a tenth. The layout follows the `COPY` page of
/// PostgreSQL's manual: a signature and header, then per row a field count and, per field, a
/// length (-1 for NULL) and the value in the type's binary (`recv`) form, all big-endian, then a
/// trailer of -1.
public struct CopyBinaryWriter {
    private var output: ByteBuffer
    private var finished = false

    /// `PGCOPY\n\377\r\n\0`, then flags and header-extension length, both zero.
    private static let header: [UInt8] = [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]

    public init(capacity: Int = 1 << 16) {
        output = ByteBufferAllocator().buffer(capacity: capacity + Self.header.count + 2)
        output.writeBytes(Self.header)
    }

    /// The rows with the trailer; nothing may be written after.
    public mutating func finish() -> ByteBuffer {
        if !finished {
            output.writeInteger(Int16(-1))
            finished = true
        }
        return output
    }

    public mutating func beginRow(fields: Int16) {
        precondition(!finished, "a row after the trailer")
        output.writeInteger(fields)
    }

    public mutating func null() { output.writeInteger(Int32(-1)) }

    /// `text`, as its UTF-8 bytes (binary COPY escapes nothing).
    public mutating func text(_ value: String?) {
        guard let value else { return null() }
        let lengthIndex = output.writerIndex
        output.writeInteger(Int32(0))
        let written = output.writeString(value)
        output.setInteger(Int32(written), at: lengthIndex)
    }

    /// `timestamptz`: microseconds since 2000-01-01 UTC.
    public mutating func timestamp(_ value: Timestamp) {
        output.writeInteger(Int32(8))
        output.writeInteger(PostgresTime(value).postgresMicroseconds)
    }

    /// `real`.
    public mutating func real(_ value: Double?) {
        guard let value else { return null() }
        output.writeInteger(Int32(4))
        output.writeInteger(Float(value).bitPattern)
    }

    /// `smallint`.
    public mutating func smallint(_ value: Int16?) {
        guard let value else { return null() }
        output.writeInteger(Int32(2))
        output.writeInteger(value)
    }

    /// `bigint`.
    public mutating func bigint(_ value: Int64?) {
        guard let value else { return null() }
        output.writeInteger(Int32(8))
        output.writeInteger(value)
    }

    /// `geography(Point, 4326)`: its receive function takes EWKB, here little-endian with SRID.
    public mutating func point(_ value: GeoPoint) {
        output.writeInteger(Int32(GeoPoint.ewkbByteCount))
        output.writeBytes(GeoPoint.ewkbHeader)
        output.writeInteger(value.longitude.bitPattern, endianness: .little)
        output.writeInteger(value.latitude.bitPattern, endianness: .little)
    }
}

extension CopyBinaryWriter {
    /// One ping as a row of ``PingStore/historyColumns``: the layout of `pings` and the staging
    /// table of the careful path, with the unit's number (`units.key`) in place of its id and
    /// the position's ``HistoryCell``.
    ///
    /// The same bytes as the field-by-field calls (``historyRowByField(_:unitKey:)``, which the
    /// tests compare it with), but written in one reserved span: each `ByteBuffer` write checks
    /// capacity and uniqueness, and a row is 36 of them; the writer encodes every ping it stores.
    public mutating func historyRow(_ ping: Ping, unitKey: Int64) {
        precondition(!finished, "a row after the trailer")
        let status = ping.status?.rawValue.utf8
        output.writeWithUnsafeMutableBytes(minimumWritableBytes: Self.historyRowFixedBytes + (status?.count ?? 0)) { buffer in
            var row = RowBytes(buffer: buffer)
            row.integer(Int16(11))
            row.field(unitKey)
            row.field(PostgresTime(ping.time).postgresMicroseconds)
            row.integer(Int32(GeoPoint.ewkbByteCount))
            row.bytes(GeoPoint.ewkbHeader)
            row.littleEndian(ping.position.longitude.bitPattern)
            row.littleEndian(ping.position.latitude.bitPattern)
            row.real(ping.altitude)
            row.real(ping.speed)
            row.real(ping.heading)
            row.real(ping.accuracy)
            if let status {
                row.integer(Int32(status.count))
                row.bytes(status)
            } else {
                row.integer(Int32(-1))
            }
            // Decoders hold the battery to [0, 100].
            if let battery = ping.battery {
                row.integer(Int32(2))
                row.integer(Int16(clamping: battery))
            } else {
                row.integer(Int32(-1))
            }
            row.field(PostgresTime(ping.receivedAt).postgresMicroseconds)
            row.field(HistoryCell.cell(of: ping.position))
            return row.offset
        }
    }

    /// ``historyRow(_:unitKey:)`` written field by field, with the general calls: what the tests
    /// compare it with.
    mutating func historyRowByField(_ ping: Ping, unitKey: Int64) {
        beginRow(fields: 11)
        bigint(unitKey)
        timestamp(ping.time)
        point(ping.position)
        real(ping.altitude)
        real(ping.speed)
        real(ping.heading)
        real(ping.accuracy)
        text(ping.status?.rawValue)
        smallint(ping.battery.map { Int16(clamping: $0) })
        timestamp(ping.receivedAt)
        bigint(HistoryCell.cell(of: ping.position))
    }

    /// A history row without its status text: field count, 11 lengths, the unit's number, two
    /// times, the point, four reals, a smallint and the cell.
    static let historyRowFixedBytes = 2 + 11 * 4 + 8 + 8 + 25 + 4 * 4 + 2 + 8 + 8

    /// Stores into a span reserved for one row, big-endian unless said (unaligned stores are allowed).
    private struct RowBytes {
        let buffer: UnsafeMutableRawBufferPointer
        var offset = 0

        mutating func integer<T: FixedWidthInteger>(_ value: T) {
            buffer.storeBytes(of: value.bigEndian, toByteOffset: offset, as: T.self)
            offset += MemoryLayout<T>.size
        }

        /// EWKB's coordinates are little-endian.
        mutating func littleEndian<T: FixedWidthInteger>(_ value: T) {
            buffer.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
            offset += MemoryLayout<T>.size
        }

        /// An 8-byte field with its length.
        mutating func field(_ value: Int64) {
            integer(Int32(8))
            integer(value)
        }

        /// `real`, or NULL.
        mutating func real(_ value: Double?) {
            guard let value else { return integer(Int32(-1)) }
            integer(Int32(4))
            integer(Float(value).bitPattern)
        }

        mutating func bytes(_ bytes: some Collection<UInt8>) {
            for byte in bytes {
                buffer[offset] = byte
                offset += 1
            }
        }
    }
}
