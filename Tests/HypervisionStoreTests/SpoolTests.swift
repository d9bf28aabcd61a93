import Foundation
import HypervisionCore
import Testing

@testable import HypervisionStore

@Suite struct SpoolTests {
    func temporaryDirectory() -> String {
        NSTemporaryDirectory() + "hv-spool-\(UUID().uuidString)"
    }

    func records(_ spool: Spool) -> [[Ping]] {
        var records: [[Ping]] = []
        spool.forEachRecord { records.append($0) }
        return records
    }

    func segmentFiles(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".spool") }.sorted()
    }

    func bytes(of path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    @Test func recordsRoundTripExactlyAndSurviveReopening() throws {
        let directory = temporaryDirectory()
        let first = TestData.pings(3)
        var second = TestData.pings(2)
        second[1].status = nil
        second[1].altitude = nil
        second[1].battery = nil
        do {
            let spool = try Spool(directory: directory, maximumBytes: 1 << 20)
            try spool.append(first)
            try spool.append(second)
        }
        let reopened = try Spool(directory: directory, maximumBytes: 1 << 20)
        #expect(records(reopened) == [first, second])
        #expect(reopened.recovery == SpoolRecovery(records: 2))
        let batch = try #require(try reopened.read(from: reopened.start, maximumPings: 100))
        #expect(batch.pings == first + second)
        #expect(reopened.isDrained(at: batch.next))
        try reopened.reset()
        #expect(reopened.isEmpty)
        #expect(segmentFiles(directory).isEmpty)
        #expect(try Spool(directory: directory, maximumBytes: 1 << 20).isEmpty)
    }

    /// A crash in the middle of a write leaves a torn record: never acknowledged, set aside
    /// rather than silently dropped, and the records before it kept.
    @Test func aTornTailIsSetAsideAndEveryIntactRecordKept() throws {
        let directory = temporaryDirectory()
        let pings = TestData.pings(4)
        do {
            let spool = try Spool(directory: directory, maximumBytes: 1 << 20)
            try spool.append(pings)
            try spool.append(pings)
        }
        let path = directory + "/" + segmentFiles(directory)[0]
        let size = try bytes(of: path).count
        let handle = FileHandle(forWritingAtPath: path)!
        try handle.truncate(atOffset: UInt64(size - 7))
        try handle.close()
        let reopened = try Spool(directory: directory, maximumBytes: 1 << 20)
        #expect(records(reopened) == [pings])
        #expect(reopened.recovery.records == 1)
        #expect(reopened.recovery.quarantinedBytes == size / 2 - 7)
        #expect(reopened.recovery.quarantineFiles.count == 1)
        let quarantined = try bytes(of: directory + "/quarantine/" + reopened.recovery.quarantineFiles[0])
        #expect(quarantined.count == size / 2 - 7)
    }

    /// The defect this replaces cut everything after the first bad record: acknowledged pings
    /// behind a damaged one were lost. Every intact record survives now.
    @Test func aDamagedRecordCostsOnlyItself() throws {
        let directory = temporaryDirectory()
        let first = TestData.pings(2), second = TestData.pings(3), third = TestData.pings(4)
        do {
            let spool = try Spool(directory: directory, maximumBytes: 1 << 20)
            try spool.append(first)
            try spool.append(second)
            try spool.append(third)
        }
        let path = directory + "/" + segmentFiles(directory)[0]
        var content = try bytes(of: path)
        let firstSize = 12 + SpoolCodec.encode(first).count, secondSize = 12 + SpoolCodec.encode(second).count
        content[firstSize + 20] ^= 0xFF  // inside the second record's payload: its CRC fails
        try Data(content).write(to: URL(fileURLWithPath: path))
        let reopened = try Spool(directory: directory, maximumBytes: 1 << 20)
        #expect(records(reopened) == [first, third])
        #expect(reopened.recovery.quarantinedBytes == secondSize)
        let quarantined = try bytes(of: directory + "/quarantine/" + reopened.recovery.quarantineFiles[0])
        #expect(quarantined == Array(content[firstSize..<(firstSize + secondSize)]))
        // The damage is gone from the segment: opening again finds nothing to set aside.
        #expect(try Spool(directory: directory, maximumBytes: 1 << 20).recovery.quarantinedBytes == 0)
    }

    /// Random damage of every shape (flipped bytes, cut-out and inserted runs) at random places:
    /// every record the damage did not touch is recovered, in order, and nothing else.
    @Test(arguments: 0..<40)
    func recoveryKeepsEveryUntouchedRecord(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        var spoolBytes: [UInt8] = []
        var recordsWritten: [(range: Range<Int>, pings: [Ping])] = []
        for index in 0..<Int.random(in: 3...12, using: &random) {
            let pings = TestData.pings(Int.random(in: 1...5, using: &random), offset: index * 10)
            let payload = SpoolCodec.encode(pings)
            var record: [UInt8] = []
            for value in [Spool.magic, UInt32(payload.count), CRC32.checksum(payload)] {
                for i in 0..<4 { record.append(UInt8(truncatingIfNeeded: value >> (8 * UInt32(i)))) }
            }
            record += payload
            recordsWritten.append((spoolBytes.count..<(spoolBytes.count + record.count), pings))
            spoolBytes += record
        }
        // Damage: one to three edits at original offsets, applied from the last to the first so
        // each offset still means what it meant. Remember what each edit touches.
        enum Edit { case flip(Int, UInt8), cut(Range<Int>), insert(Int, [UInt8]) }
        var edits: [(at: Int, edit: Edit)] = []
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            let at = Int.random(in: 0..<spoolBytes.count, using: &random)
            switch Int.random(in: 0..<3, using: &random) {
            case 0: edits.append((at, .flip(at, UInt8.random(in: 1...255, using: &random))))
            case 1: edits.append((at, .cut(at..<min(spoolBytes.count, at + Int.random(in: 1...40, using: &random)))))
            default:
                edits.append((at, .insert(at, (0..<Int.random(in: 1...40, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) })))
            }
        }
        var damaged = spoolBytes
        var touchedRanges: [Range<Int>] = []
        var insertions: [Int] = []
        for (_, edit) in edits.sorted(by: { $0.at > $1.at }) {
            switch edit {
            case .flip(let at, let mask):
                damaged[at] ^= mask
                touchedRanges.append(at..<(at + 1))
            case .cut(let range):
                damaged.removeSubrange(range)
                touchedRanges.append(range)
            case .insert(let at, let inserted):
                damaged.insert(contentsOf: inserted, at: at)
                insertions.append(at)
            }
        }
        let scan = SpoolScan.records(in: damaged)
        let recovered = try scan.records.map { try SpoolCodec.decode(Array(damaged[$0].dropFirst(12))) }
        // Bytes inserted at a record's first byte leave it whole; inside it, they break it.
        let untouched = recordsWritten.filter { record in
            !touchedRanges.contains { $0.overlaps(record.range) }
                && !insertions.contains { record.range.lowerBound < $0 && $0 < record.range.upperBound }
        }.map(\.pings)
        // Every untouched record is found, in order; the only others a scan could find would be
        // records re-formed by chance, which CRC32 makes practically impossible.
        #expect(recovered == untouched, "seed \(seed)")
        let covered = scan.records.reduce(0) { $0 + $1.count } + scan.damaged.reduce(0) { $0 + $1.count }
        #expect(covered == damaged.count)
    }

    @Test func segmentsRotateAndAreDeletedOnceReplayed() throws {
        let directory = temporaryDirectory()
        let spool = try Spool(directory: directory, maximumBytes: 1 << 20, segmentBytes: 4096)
        let batches = (0..<40).map { TestData.pings(8, offset: $0 * 8) }
        for batch in batches { try spool.append(batch) }
        let segments = segmentFiles(directory).count
        #expect(segments > 3)
        var position = spool.start
        var replayed: [Ping] = []
        var size = spool.sizeInBytes
        while let batch = try spool.read(from: position, maximumPings: 30) {
            replayed += batch.pings
            position = batch.next
            spool.release(before: position)
            // What is released is what lies before the segment being read.
            #expect(spool.sizeInBytes <= size)
            #expect(segmentFiles(directory).first.map { $0 >= Spool.segmentName(position.segment) } ?? true)
            size = spool.sizeInBytes
        }
        #expect(replayed == batches.flatMap { $0 })
        #expect(spool.isDrained(at: position))
        #expect(segmentFiles(directory).count <= 1)
        try spool.reset()
        #expect(segmentFiles(directory).isEmpty && spool.sizeInBytes == 0)
    }

    /// Replay reads while appends go on: each record is read once, in order.
    @Test func appendsAndReadsInterleave() throws {
        let spool = try Spool(directory: temporaryDirectory(), maximumBytes: 1 << 22, segmentBytes: 8192)
        var position = spool.start
        var replayed: [Ping] = []
        var written: [Ping] = []
        for round in 0..<60 {
            let pings = TestData.pings(1 + round % 7, offset: written.count)
            try spool.append(pings)
            written += pings
            if round % 3 == 0, let batch = try spool.read(from: position, maximumPings: 10) {
                replayed += batch.pings
                position = batch.next
                spool.release(before: position)
            }
        }
        while let batch = try spool.read(from: position, maximumPings: 10) {
            replayed += batch.pings
            position = batch.next
        }
        #expect(replayed == written)
        #expect(spool.isDrained(at: position))
    }

    @Test func theSingleFileSpoolOfEarlierVersionsIsAdopted() throws {
        let directory = temporaryDirectory()
        let pings = TestData.pings(3)
        do {
            let spool = try Spool(directory: directory, maximumBytes: 1 << 20)
            try spool.append(pings)
        }
        let segment = segmentFiles(directory)[0]
        try FileManager.default.moveItem(atPath: directory + "/" + segment, toPath: directory + "/pings.spool")
        let reopened = try Spool(directory: directory, maximumBytes: 1 << 20)
        #expect(records(reopened) == [pings])
        #expect(!FileManager.default.fileExists(atPath: directory + "/pings.spool"))
    }

    @Test func aFullSpoolRefusesAndSaysSo() throws {
        let spool = try Spool(directory: temporaryDirectory(), maximumBytes: 1024)
        try spool.append(TestData.pings(2))
        do {
            try spool.append(TestData.pings(50))
            Issue.record("expected the spool to be full")
        } catch {
            #expect(error.isFull)
            #expect(error.message.contains("full"))
        }
        #expect(records(spool).count == 1)
    }

    @Test func refusedPingsAreSetAsideInTheSpoolFormat() throws {
        let directory = temporaryDirectory()
        let spool = try Spool(directory: directory, maximumBytes: 1 << 20)
        let pings = TestData.pings(2)
        let name = try spool.quarantine(pings, reason: "check constraint")
        let content = try bytes(of: directory + "/quarantine/" + name)
        let scan = SpoolScan.records(in: content)
        #expect(scan.damaged.isEmpty && scan.records.count == 1)
        #expect(try SpoolCodec.decode(Array(content.dropFirst(12))) == pings)
        #expect(try String(contentsOfFile: directory + "/quarantine/" + name + ".reason", encoding: .utf8) == "check constraint\n")
        #expect(spool.isEmpty)
    }
}
