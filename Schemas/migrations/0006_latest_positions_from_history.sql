-- Hypervision schema, version 6: the latest position of a unit is read from its history.
--
-- Until now every batch of pings also upserted `unit_positions`, one row per unit in the batch,
-- in the same transaction: at the batch sizes a steady 10,000 pings/s gives (a few thousand
-- pings, each unit once), that update was more than a third of the writer's time, and every
-- row of it was written to the WAL again. The table was read only to rebuild the live picture
-- (at start-up, and when a daemon of a cluster joins again). The history already holds the same
-- answer: the newest ping of a unit by device time is the last entry of its primary key
-- (unit_id, time), and with day partitions scanned newest first it is one index probe for a unit
-- heard today.
--
-- What remains is to know which units to probe: `units.heard_on`, the latest UTC day on which a
-- ping of the unit was received. The writer moves it forwards in the batch's transaction, once
-- per unit and day (it remembers the days it has written), so it costs nothing per ping.
ALTER TABLE units ADD COLUMN heard_on date;
UPDATE units SET heard_on = (up.received_at AT TIME ZONE 'UTC')::date FROM unit_positions up WHERE up.unit_id = units.id;
DROP TABLE unit_positions;
