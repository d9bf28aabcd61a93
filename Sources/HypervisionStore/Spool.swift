import Foundation
import HypervisionCore

#if canImport(Glibc)
import Glibc
#endif

/// A local append-only file that holds acknowledged pings while PostgreSQL is unreachable.
///
/// Each append is one record, written and `fsync`ed before the pings are acknowledged:
/// `magic u32 | length u32 | crc32 u32 | payload`. A crash can leave a torn last record; it was
/// never acknowledged (its fsync never returned), so opening the spool cuts it off. Records are
/// replayed in order; the file is emptied only after every record is in the database.
public final class Spool: @unchecked Sendable {
    // @unchecked: every method is called from the single writer task; the file descriptor and
    // the size are never touched concurrently. `sizeInBytes` is read by metrics through `size`.

    public let path: String
    public let maximumBytes: Int
    private var fd: Int32
    public private(set) var sizeInBytes: Int

    static let magic: UInt32 = 0x4856_5350  // "HVSP"
    static let headerSize = 12

    /// Opens (creating if needed) the spool and drops a torn tail left by a crash.
    public init(path: String, maximumBytes: Int) throws(SpoolError) {
        self.path = path
        self.maximumBytes = maximumBytes
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw SpoolError("cannot create spool directory \(directory): \(error)")
        }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SpoolError("cannot open spool \(path): \(String(cString: strerror(errno)))") }
        self.fd = fd
        self.sizeInBytes = 0
        let validEnd = try Self.scanValidLength(fd: fd, path: path)
        let fileEnd = Int(lseek(fd, 0, SEEK_END))
        if validEnd < fileEnd {
            tornBytesDropped = fileEnd - validEnd
            guard ftruncate(fd, off_t(validEnd)) == 0, fsync(fd) == 0 else {
                throw SpoolError("cannot cut the torn tail of spool \(path): \(String(cString: strerror(errno)))")
            }
        }
        self.sizeInBytes = validEnd
        lseek(fd, off_t(validEnd), SEEK_SET)
        Self.syncDirectory(directory)
    }

    deinit { close(fd) }

    public var isEmpty: Bool { sizeInBytes == 0 }

    /// Bytes of a torn last record cut off when the spool was opened (never acknowledged).
    public private(set) var tornBytesDropped = 0

    /// Appends pings as one record and makes it durable. Throws ``SpoolError`` when full.
    public func append(_ pings: [Ping]) throws(SpoolError) {
        let payload = SpoolCodec.encode(pings)
        let recordSize = Self.headerSize + payload.count
        guard sizeInBytes + recordSize <= maximumBytes else {
            throw SpoolError("spool \(path) is full (\(sizeInBytes) of \(maximumBytes) bytes)", isFull: true)
        }
        var record = [UInt8]()
        record.reserveCapacity(recordSize)
        appendUInt32(&record, Self.magic)
        appendUInt32(&record, UInt32(payload.count))
        appendUInt32(&record, CRC32.checksum(payload))
        record.append(contentsOf: payload)
        let written = record.withUnsafeBytes { buffer -> Int in
            var offset = 0
            while offset < buffer.count {
                let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return -1
                }
                offset += n
            }
            return offset
        }
        guard written == recordSize, fsync(fd) == 0 else {
            let reason = String(cString: strerror(errno))
            // Cut back whatever part was written so the file stays a sequence of whole records.
            _ = ftruncate(fd, off_t(sizeInBytes))
            lseek(fd, off_t(sizeInBytes), SEEK_SET)
            throw SpoolError("cannot write spool \(path): \(reason)")
        }
        sizeInBytes += recordSize
    }

    /// Reads the record that starts at `offset`; nil at the end of the spool. Records are read
    /// one at a time so replaying a large spool needs the memory of one record only.
    public func record(at offset: Int) throws(SpoolError) -> (pings: [Ping], next: Int)? {
        guard offset < sizeInBytes else { return nil }
        guard let (payload, next) = Self.readRecord(fd: fd, at: offset) else {
            throw SpoolError("spool \(path) is corrupt at offset \(offset)")
        }
        do {
            return (try SpoolCodec.decode(payload), next)
        } catch {
            throw SpoolError("spool \(path) has an undecodable record at offset \(offset): \(error)")
        }
    }

    /// Reads every record in order.
    public func records() throws(SpoolError) -> [[Ping]] {
        var result: [[Ping]] = []
        var offset = 0
        while let (pings, next) = try record(at: offset) {
            result.append(pings)
            offset = next
        }
        return result
    }

    /// Empties the spool once all its records are in the database.
    public func truncate() throws(SpoolError) {
        guard ftruncate(fd, 0) == 0, fsync(fd) == 0 else {
            throw SpoolError("cannot empty spool \(path): \(String(cString: strerror(errno)))")
        }
        lseek(fd, 0, SEEK_SET)
        sizeInBytes = 0
    }

    /// Moves the spool aside (for a record the database keeps refusing) and starts an empty one.
    public func quarantine() throws(SpoolError) -> String {
        let target = path + ".quarantine-\(Int(Date().timeIntervalSince1970))"
        guard rename(path, target) == 0 else {
            throw SpoolError("cannot move spool \(path) aside: \(String(cString: strerror(errno)))")
        }
        close(fd)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SpoolError("cannot reopen spool \(path): \(String(cString: strerror(errno)))") }
        self.fd = fd
        sizeInBytes = 0
        Self.syncDirectory((path as NSString).deletingLastPathComponent)
        return target
    }

    private static func scanValidLength(fd: Int32, path: String) throws(SpoolError) -> Int {
        var offset = 0
        while let (_, next) = readRecord(fd: fd, at: offset) { offset = next }
        return offset
    }

    private static func readRecord(fd: Int32, at offset: Int) -> ([UInt8], Int)? {
        var header = [UInt8](repeating: 0, count: headerSize)
        guard readFully(fd: fd, into: &header, at: offset) else { return nil }
        let magic = readUInt32(header, 0), length = Int(readUInt32(header, 4)), crc = readUInt32(header, 8)
        guard magic == Self.magic, length <= 1 << 30 else { return nil }
        var payload = [UInt8](repeating: 0, count: length)
        guard readFully(fd: fd, into: &payload, at: offset + headerSize), CRC32.checksum(payload) == crc else {
            return nil
        }
        return (payload, offset + headerSize + length)
    }

    private static func readFully(fd: Int32, into buffer: inout [UInt8], at offset: Int) -> Bool {
        let count = buffer.count
        if count == 0 { return true }
        return buffer.withUnsafeMutableBytes { raw -> Bool in
            var done = 0
            while done < count {
                let n = pread(fd, raw.baseAddress! + done, count - done, off_t(offset + done))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                done += n
            }
            return true
        }
    }

    private static func syncDirectory(_ directory: String) {
        let dfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }
}

/// A spool that cannot be used, with the reason.
public struct SpoolError: Error, Sendable, CustomStringConvertible {
    public var message: String
    /// True when the spool reached its configured size limit.
    public var isFull: Bool
    public init(_ message: String, isFull: Bool = false) {
        self.message = message
        self.isFull = isFull
    }
    public var description: String { message }
}

/// The compact binary form of pings in the spool. Exact: times in microseconds, doubles by bit pattern.
enum SpoolCodec {
    static let version: UInt8 = 1

    static func encode(_ pings: [Ping]) -> [UInt8] {
        var out: [UInt8] = [version]
        out.reserveCapacity(pings.count * 80)
        appendUInt32(&out, UInt32(pings.count))
        for ping in pings {
            appendString(&out, ping.unit.rawValue)
            appendUInt64(&out, UInt64(bitPattern: ping.time.microseconds))
            appendUInt64(&out, ping.position.latitude.bitPattern)
            appendUInt64(&out, ping.position.longitude.bitPattern)
            var flags: UInt8 = 0
            if ping.altitude != nil { flags |= 1 }
            if ping.speed != nil { flags |= 2 }
            if ping.heading != nil { flags |= 4 }
            if ping.accuracy != nil { flags |= 8 }
            if ping.status != nil { flags |= 16 }
            if ping.battery != nil { flags |= 32 }
            out.append(flags)
            for value in [ping.altitude, ping.speed, ping.heading, ping.accuracy] {
                if let value { appendUInt64(&out, value.bitPattern) }
            }
            if let status = ping.status { appendString(&out, status.rawValue) }
            if let battery = ping.battery { out.append(UInt8(clamping: battery)) }
            appendUInt64(&out, UInt64(bitPattern: ping.receivedAt.microseconds))
        }
        return out
    }

    struct DecodeError: Error, CustomStringConvertible {
        var description: String
    }

    static func decode(_ bytes: [UInt8]) throws -> [Ping] {
        var cursor = 0
        func need(_ n: Int) throws {
            guard cursor + n <= bytes.count else { throw DecodeError(description: "record ends early") }
        }
        func u8() throws -> UInt8 { try need(1); defer { cursor += 1 }; return bytes[cursor] }
        func u32() throws -> UInt32 { try need(4); defer { cursor += 4 }; return readUInt32(bytes, cursor) }
        func u64() throws -> UInt64 {
            try need(8)
            var v: UInt64 = 0
            for i in 0..<8 { v |= UInt64(bytes[cursor + i]) << (8 * UInt64(i)) }
            cursor += 8
            return v
        }
        func string() throws -> String {
            let n = Int(try u8())
            try need(n)
            defer { cursor += n }
            return String(decoding: bytes[cursor..<(cursor + n)], as: UTF8.self)
        }
        guard try u8() == version else { throw DecodeError(description: "unknown spool record version") }
        let count = Int(try u32())
        var pings: [Ping] = []
        pings.reserveCapacity(count)
        for _ in 0..<count {
            let unit = UnitID(trusted: try string())
            let time = Timestamp(microseconds: Int64(bitPattern: try u64()))
            let lat = Double(bitPattern: try u64())
            let lon = Double(bitPattern: try u64())
            let flags = try u8()
            let altitude = flags & 1 != 0 ? Double(bitPattern: try u64()) : nil
            let speed = flags & 2 != 0 ? Double(bitPattern: try u64()) : nil
            let heading = flags & 4 != 0 ? Double(bitPattern: try u64()) : nil
            let accuracy = flags & 8 != 0 ? Double(bitPattern: try u64()) : nil
            let status = flags & 16 != 0 ? UnitStatus(rawValue: try string()) : nil
            let battery = flags & 32 != 0 ? Int(try u8()) : nil
            let receivedAt = Timestamp(microseconds: Int64(bitPattern: try u64()))
            pings.append(
                Ping(
                    unit: unit, time: time, position: GeoPoint(latitude: lat, longitude: lon), altitude: altitude,
                    speed: speed, heading: heading, accuracy: accuracy, status: status, battery: battery,
                    receivedAt: receivedAt))
        }
        guard cursor == bytes.count else { throw DecodeError(description: "trailing bytes in record") }
        return pings
    }
}

private func appendUInt32(_ out: inout [UInt8], _ v: UInt32) {
    for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
}

private func appendUInt64(_ out: inout [UInt8], _ v: UInt64) {
    for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
}

private func appendString(_ out: inout [UInt8], _ s: String) {
    let utf8 = Array(s.utf8.prefix(255))
    out.append(UInt8(utf8.count))
    out.append(contentsOf: utf8)
}

private func readUInt32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
    UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
}

/// CRC-32 (IEEE), to tell a whole spool record from a torn one.
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
