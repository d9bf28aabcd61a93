import Foundation
import HypervisionCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A local log of acknowledged pings, kept while PostgreSQL cannot take them and replayed in order
/// when it can.
///
/// The log is a sequence of segment files in one directory (`pings-<number>.spool`). Each append
/// is one record, written and `fsync`ed before its pings are acknowledged:
/// `magic u32 | length u32 | crc32 u32 | payload`. Appends go to the newest segment, which is
/// sealed once it holds ``segmentBytes``, or at start-up; replay reads from the oldest, and a
/// segment whose records are all in the database is deleted. So the disk holds what is still
/// owed to the database plus at most one segment, and replay can run while appends go on.
///
/// Opening the spool recovers every intact record. Bytes that are not an intact record — a torn
/// record left by a crash mid-write, or damage — are copied to `quarantine/` and cut out of
/// their segment; the records after them are kept (a damaged record in the middle of a segment
/// never costs the acknowledged records behind it). ``recovery`` says what was found.
///
/// Concurrency: one append at a time (``append(_:)`` serialises them) and any number of reads;
/// a record is read only once its append returned, and segment files are deleted only by
/// ``release(before:)`` and ``reset()``, which the writer calls when no read of them is running.
public final class Spool: Sendable {
    public let directory: String
    public let maximumBytes: Int
    /// Size at which the segment taking appends is sealed and a new one started.
    public let segmentBytes: Int
    /// What opening the spool found and set aside.
    public let recovery: SpoolRecovery

    private let state: Mutex<State>
    /// Held for a whole append, so appends never interleave; reads do not take it.
    private let appending = Mutex(())

    static let magic: UInt32 = 0x4856_5350  // "HVSP"
    static let headerSize = 12
    /// No record is larger: a batch of pings is a few megabytes at most.
    static let maximumRecordBytes = 256 << 20

    private struct Segment: Sendable {
        var number: UInt64
        var fd: Int32
        var size: Int
        /// Sealed segments take no more appends.
        var sealed: Bool
    }

    private struct State: Sendable {
        var segments: [Segment] = []
        var bytes = 0
        var nextNumber: UInt64 = 0
    }

    /// Where replay stands: a segment and an offset in it.
    public struct Position: Sendable, Hashable, Comparable, CustomStringConvertible {
        public var segment: UInt64
        public var offset: Int
        public init(segment: UInt64, offset: Int) {
            self.segment = segment
            self.offset = offset
        }
        public static func < (a: Position, b: Position) -> Bool { (a.segment, a.offset) < (b.segment, b.offset) }
        public var description: String { "segment \(segment) offset \(offset)" }
    }

    /// Opens the spool in `directory` (creating it if needed) and recovers its segments. A file
    /// `pings.spool` there (the single-file spool of earlier versions) is taken as the oldest segment.
    public init(directory: String, maximumBytes: Int, segmentBytes: Int = 64 << 20) throws(SpoolError) {
        self.directory = directory
        self.maximumBytes = maximumBytes
        self.segmentBytes = max(4096, min(segmentBytes, maximumBytes))
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw SpoolError("cannot create spool directory \(directory): \(error)")
        }
        let legacy = directory + "/pings.spool"
        if access(legacy, F_OK) == 0 {
            guard rename(legacy, directory + "/" + Self.segmentName(0)) == 0 else {
                throw SpoolError("cannot adopt \(legacy): \(String(cString: strerror(errno)))")
            }
        }
        var recovery = SpoolRecovery()
        var state = State()
        for number in try Self.segmentNumbers(in: directory) {
            let path = directory + "/" + Self.segmentName(number)
            let found = try Self.recover(path: path, quarantineDirectory: directory + "/quarantine", name: Self.segmentName(number))
            recovery.records += found.records
            recovery.quarantinedBytes += found.quarantinedBytes
            recovery.quarantineFiles += found.quarantineFiles
            if found.size == 0 {
                unlink(path)
                continue
            }
            let fd = open(path, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else { throw SpoolError("cannot open spool segment \(path): \(String(cString: strerror(errno)))") }
            state.segments.append(Segment(number: number, fd: fd, size: found.size, sealed: true))
            state.bytes += found.size
            state.nextNumber = number + 1
        }
        Self.syncDirectory(directory)
        self.recovery = recovery
        self.state = Mutex(state)
    }

    deinit {
        state.withLock { state in
            for segment in state.segments { close(segment.fd) }
        }
    }

    /// Bytes held in all segments.
    public var sizeInBytes: Int { state.withLock { $0.bytes } }

    public var isEmpty: Bool { sizeInBytes == 0 }

    /// Where a replay of everything held starts.
    public var start: Position {
        state.withLock { Position(segment: $0.segments.first?.number ?? $0.nextNumber, offset: 0) }
    }

    /// Appends pings as one record and makes it durable; throws ``SpoolError`` (with
    /// ``SpoolError/isFull`` when the size bound would be passed) and then holds nothing of it.
    public func append(_ pings: [Ping]) throws(SpoolError) {
        let record = Self.record(SpoolCodec.encode(pings))
        try appending.withLock { _ throws(SpoolError) in
            let target = try segmentForAppend(adding: record.count)
            let written = record.withUnsafeBytes { buffer in Self.writeFully(fd: target.fd, buffer, at: target.size) }
            guard written, fsync(target.fd) == 0 else {
                let reason = String(cString: strerror(errno))
                // Cut back what part was written, and take no more appends in a segment whose
                // fsync failed: after a failed fsync the kernel's cached pages cannot be trusted.
                _ = ftruncate(target.fd, off_t(target.size))
                state.withLock { state in
                    if let index = state.segments.firstIndex(where: { $0.number == target.number }) { state.segments[index].sealed = true }
                }
                throw SpoolError("cannot write spool \(directory): \(reason)", isFull: errno == ENOSPC || errno == EDQUOT)
            }
            state.withLock { state in
                if let index = state.segments.firstIndex(where: { $0.number == target.number }) {
                    state.segments[index].size += record.count
                    if state.segments[index].size >= segmentBytes { state.segments[index].sealed = true }
                }
                state.bytes += record.count
            }
        }
    }

    /// The segment that takes the next append, started if needed; checks the size bound.
    private func segmentForAppend(adding count: Int) throws(SpoolError) -> Segment {
        let (current, bytes, next) = state.withLock { state in
            (state.segments.last.flatMap { $0.sealed ? nil : $0 }, state.bytes, state.nextNumber)
        }
        guard bytes + count <= maximumBytes else {
            throw SpoolError("spool \(directory) is full (\(bytes) of \(maximumBytes) bytes)", isFull: true)
        }
        if let current { return current }
        let path = directory + "/" + Self.segmentName(next)
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw SpoolError("cannot create spool segment \(path): \(String(cString: strerror(errno)))", isFull: errno == ENOSPC)
        }
        Self.syncDirectory(directory)
        let segment = Segment(number: next, fd: fd, size: 0, sealed: false)
        state.withLock { state in
            state.segments.append(segment)
            state.nextNumber = next + 1
        }
        return segment
    }

    /// What one read of the spool gave.
    public struct Batch: Sendable {
        /// The pings of the records read, in spool order.
        public var pings: [Ping]
        /// Where the next read starts.
        public var next: Position
        /// Records whose bytes were intact but could not be decoded: set aside in `quarantine/`.
        public var quarantined: [String]
    }

    /// Reads whole records from `position` on, until they hold `maximumPings` (at least one
    /// record); nil when nothing is held from there on.
    public func read(from position: Position, maximumPings: Int) throws(SpoolError) -> Batch? {
        var position = position
        var batch = Batch(pings: [], next: position, quarantined: [])
        var salvaged: Set<UInt64> = []
        while batch.pings.count < maximumPings {
            let segment = state.withLock { state in state.segments.first { $0.number >= position.segment } }
            guard let segment else { break }
            if segment.number != position.segment { position = Position(segment: segment.number, offset: 0) }
            guard position.offset < segment.size else {
                // Past the end of this segment: on to the next, unless this one still takes appends.
                guard segment.sealed else { break }
                position = Position(segment: segment.number + 1, offset: 0)
                batch.next = position
                continue
            }
            guard let (payload, end) = Self.readRecord(fd: segment.fd, at: position.offset, limit: segment.size) else {
                // Damaged since it was opened: set the damage aside as at start-up, then read on
                // from the same offset, where the next intact record now starts.
                guard !salvaged.contains(segment.number) else {
                    throw SpoolError("spool segment \(Self.segmentName(segment.number)) is unreadable at offset \(position.offset)")
                }
                salvaged.insert(segment.number)
                batch.quarantined += try salvage(segment: segment.number).quarantineFiles
                continue
            }
            do {
                batch.pings.append(contentsOf: try SpoolCodec.decode(payload))
            } catch {
                let name = "\(Self.segmentName(segment.number))-at-\(position.offset).undecodable"
                try Self.writeQuarantine(
                    Self.record(payload), directory: directory + "/quarantine", name: name)
                batch.quarantined.append(name + ": \(error)")
            }
            position = Position(segment: segment.number, offset: end)
            batch.next = position
        }
        return batch.pings.isEmpty && batch.quarantined.isEmpty ? nil : batch
    }

    /// Recovers a segment in place, as opening the spool does, and seals it.
    private func salvage(segment number: UInt64) throws(SpoolError) -> SegmentRecovery {
        try appending.withLock { _ throws(SpoolError) in
            let path = directory + "/" + Self.segmentName(number)
            let found = try Self.recover(path: path, quarantineDirectory: directory + "/quarantine", name: Self.segmentName(number))
            let fd = open(path, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else { throw SpoolError("cannot reopen spool segment \(path): \(String(cString: strerror(errno)))") }
            let old = state.withLock { state -> Int32? in
                guard let index = state.segments.firstIndex(where: { $0.number == number }) else { return nil }
                let old = state.segments[index]
                state.bytes += found.size - old.size
                state.segments[index] = Segment(number: number, fd: fd, size: found.size, sealed: true)
                return old.fd
            }
            if let old { close(old) } else { close(fd) }
            return found
        }
    }

    /// Every ping held, record by record in order (start-up puts them on the live picture).
    /// Records that cannot be decoded are skipped here; replay sets them aside.
    public func forEachRecord(_ body: ([Ping]) throws -> Void) rethrows {
        let segments = state.withLock { $0.segments }
        for segment in segments {
            var offset = 0
            while offset < segment.size, let (payload, end) = Self.readRecord(fd: segment.fd, at: offset, limit: segment.size) {
                if let pings = try? SpoolCodec.decode(payload) { try body(pings) }
                offset = end
            }
        }
    }

    /// True when nothing is held at or after `position`.
    public func isDrained(at position: Position) -> Bool {
        state.withLock { state in
            !state.segments.contains { $0.number > position.segment || ($0.number == position.segment && $0.size > position.offset) }
        }
    }

    /// Deletes the segments wholly before `position`: their records are in the database.
    public func release(before position: Position) {
        let released = state.withLock { state -> [Segment] in
            let released = state.segments.filter { $0.number < position.segment }
            state.segments.removeAll { $0.number < position.segment }
            state.bytes -= released.reduce(0) { $0 + $1.size }
            return released
        }
        for segment in released {
            close(segment.fd)
            unlink(directory + "/" + Self.segmentName(segment.number))
        }
        if !released.isEmpty { Self.syncDirectory(directory) }
    }

    /// Deletes every segment once all of it is in the database. The caller makes sure no
    /// append runs meanwhile (an append racing this would be deleted with the rest).
    public func reset() throws(SpoolError) {
        try appending.withLock { _ throws(SpoolError) in
            let segments = state.withLock { state -> [Segment] in
                let segments = state.segments
                state.segments = []
                state.bytes = 0
                return segments
            }
            for segment in segments {
                close(segment.fd)
                guard unlink(directory + "/" + Self.segmentName(segment.number)) == 0 || errno == ENOENT else {
                    throw SpoolError("cannot delete spool segment \(Self.segmentName(segment.number)): \(String(cString: strerror(errno)))")
                }
            }
            Self.syncDirectory(directory)
        }
    }

    /// Sets pings aside in `quarantine/` as one record (a file the spool format reads), for pings
    /// that the database refuses; returns the file's name.
    public func quarantine(_ pings: [Ping], reason: String) throws(SpoolError) -> String {
        let name = "refused-\(Int(Date().timeIntervalSince1970 * 1000))-\(UInt32.random(in: 0...UInt32.max)).spool"
        try Self.writeQuarantine(Self.record(SpoolCodec.encode(pings)), directory: directory + "/quarantine", name: name)
        let note = Array("\(reason)\n".utf8)
        try Self.writeQuarantine(note, directory: directory + "/quarantine", name: name + ".reason")
        return name
    }

    // MARK: Files

    static func segmentName(_ number: UInt64) -> String {
        let hex = String(number, radix: 16)
        return "pings-" + String(repeating: "0", count: max(0, 16 - hex.count)) + hex + ".spool"
    }

    private static func segmentNumbers(in directory: String) throws(SpoolError) -> [UInt64] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw SpoolError("cannot list spool directory \(directory): \(error)")
        }
        return names.compactMap { name -> UInt64? in
            guard name.hasPrefix("pings-"), name.hasSuffix(".spool"), name.utf8.count == 6 + 16 + 6 else { return nil }
            return UInt64(name.dropFirst(6).dropLast(6), radix: 16)
        }.sorted()
    }

    private static func record(_ payload: [UInt8]) -> [UInt8] {
        var record = [UInt8]()
        record.reserveCapacity(headerSize + payload.count)
        appendUInt32(&record, magic)
        appendUInt32(&record, UInt32(payload.count))
        appendUInt32(&record, CRC32.checksum(payload))
        record.append(contentsOf: payload)
        return record
    }

    /// The payload of the intact record at `offset` and where the next one starts; nil when the
    /// bytes there are not an intact record ending at or before `limit`.
    static func readRecord(fd: Int32, at offset: Int, limit: Int) -> ([UInt8], Int)? {
        guard offset + headerSize <= limit else { return nil }
        var header = [UInt8](repeating: 0, count: headerSize)
        guard readFully(fd: fd, into: &header, at: offset) else { return nil }
        let length = Int(readUInt32(header, 4))
        guard readUInt32(header, 0) == magic, length <= maximumRecordBytes, offset + headerSize + length <= limit else { return nil }
        var payload = [UInt8](repeating: 0, count: length)
        guard readFully(fd: fd, into: &payload, at: offset + headerSize), CRC32.checksum(payload) == readUInt32(header, 8) else {
            return nil
        }
        return (payload, offset + headerSize + length)
    }

    /// What recovering one segment found.
    struct SegmentRecovery {
        var size = 0
        var records = 0
        var quarantinedBytes = 0
        var quarantineFiles: [String] = []
    }

    /// Keeps every intact record of a segment. Anything else (a torn tail, a damaged record) is
    /// copied to the quarantine directory and the segment rewritten without it, so the intact
    /// records after the damage stay in place.
    static func recover(path: String, quarantineDirectory: String, name: String) throws(SpoolError) -> SegmentRecovery {
        let bytes: [UInt8]
        do {
            bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw SpoolError("cannot read spool segment \(path): \(error)")
        }
        let scan = SpoolScan.records(in: bytes)
        var found = SegmentRecovery(size: bytes.count, records: scan.records.count)
        guard !scan.damaged.isEmpty else { return found }
        for range in scan.damaged {
            let file = "\(name)-at-\(range.lowerBound).damaged"
            try writeQuarantine(Array(bytes[range]), directory: quarantineDirectory, name: file)
            found.quarantinedBytes += range.count
            found.quarantineFiles.append(file)
        }
        var kept: [UInt8] = []
        kept.reserveCapacity(bytes.count - found.quarantinedBytes)
        for range in scan.records { kept.append(contentsOf: bytes[range]) }
        let temporary = path + ".recovered"
        try writeFile(kept, path: temporary)
        guard rename(temporary, path) == 0 else {
            throw SpoolError("cannot replace spool segment \(path): \(String(cString: strerror(errno)))")
        }
        found.size = kept.count
        return found
    }

    private static func writeQuarantine(_ bytes: [UInt8], directory: String, name: String) throws(SpoolError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw SpoolError("cannot create the quarantine directory \(directory): \(error)")
        }
        try writeFile(bytes, path: directory + "/" + name)
        syncDirectory(directory)
    }

    private static func writeFile(_ bytes: [UInt8], path: String) throws(SpoolError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SpoolError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { writeFully(fd: fd, $0, at: 0) }
        guard written, fsync(fd) == 0 else {
            throw SpoolError("cannot write \(path): \(String(cString: strerror(errno)))", isFull: errno == ENOSPC)
        }
    }

    private static func writeFully(fd: Int32, _ buffer: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        var done = 0
        while done < buffer.count {
            let n = pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            done += n
        }
        return true
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

/// What opening a spool recovered and set aside.
public struct SpoolRecovery: Sendable, Hashable {
    /// Intact records kept.
    public var records = 0
    /// Bytes that were not intact records, copied to `quarantine/` and cut out.
    public var quarantinedBytes = 0
    /// The quarantine files written, in `quarantine/`.
    public var quarantineFiles: [String] = []
}

/// Finding the intact records in a segment's bytes. Pure, so damage of every shape is tested
/// without files.
enum SpoolScan {
    /// The byte ranges of intact records, in order, and of everything else.
    static func records(in bytes: [UInt8]) -> (records: [Range<Int>], damaged: [Range<Int>]) {
        var records: [Range<Int>] = []
        var damaged: [Range<Int>] = []
        var offset = 0
        while offset < bytes.count {
            if let end = intactRecord(in: bytes, at: offset) {
                records.append(offset..<end)
                offset = end
                continue
            }
            // Resynchronise: the next offset where an intact record starts. A record's magic and
            // CRC make a false start after damage practically impossible.
            var next = offset + 1
            while next < bytes.count, intactRecord(in: bytes, at: next) == nil { next += 1 }
            damaged.append(offset..<next)
            offset = next
        }
        return (records, damaged)
    }

    static func intactRecord(in bytes: [UInt8], at offset: Int) -> Int? {
        guard offset + Spool.headerSize <= bytes.count, readUInt32(bytes, offset) == Spool.magic else { return nil }
        let length = Int(readUInt32(bytes, offset + 4))
        let end = offset + Spool.headerSize + length
        guard length <= Spool.maximumRecordBytes, end <= bytes.count else { return nil }
        return CRC32.checksum(bytes[(offset + Spool.headerSize)..<end]) == readUInt32(bytes, offset + 8) ? end : nil
    }
}

/// A spool that cannot be used, with the reason.
public struct SpoolError: Error, Sendable, CustomStringConvertible {
    public var message: String
    /// True when the spool reached its configured size limit or its file system is full.
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
        // Every ping takes at least 34 bytes: a count beyond that is damage, not a reason to reserve memory.
        guard count <= bytes.count / 34 else { throw DecodeError(description: "record claims \(count) pings in \(bytes.count) bytes") }
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

    static func checksum(_ bytes: some Collection<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
