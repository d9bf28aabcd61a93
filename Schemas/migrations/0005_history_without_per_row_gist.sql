-- Hypervision schema, version 5: a stored ping costs what the history questions need.
--
-- Until now every row of pings carried two indexes: the primary key (unit_id, time), and a GiST
-- entry for its position. The GiST entry cost more than the row (COPY into the table ran at
-- about a fifth of COPY into a bare one). The questions it served, "who was near here between
-- then and then", always name a time window, and a window is a run of consecutive blocks:
-- pings arrive in time order. So:
--   * the primary key stays: it keeps a repeated report stored once and answers tracks;
--   * a BRIN index on time (a few kilobytes per million rows) finds a window's blocks;
--   * each row carries `cell`, a coarse spatial key (0.002 degree cells, see HistoryCell in the
--     code): an integer test within the window before the exact geodesic distance;
--   * no GiST on history rows.
-- Rows stored before this version have no cell (NULL): questions keep them for the exact test,
-- and retention drops them with their day partitions. Nothing is rewritten here, so the
-- migration takes as long as building the BRIN index: one read of the table.
ALTER TABLE pings ADD COLUMN cell bigint;
DROP INDEX pings_position_gist;
-- autosummarize: each block range is summarised by autovacuum as soon as it is full, not at the
-- partition's next vacuum. An unsummarised range is read by every question, and a partition
-- that only receives inserts is vacuumed rarely.
CREATE INDEX pings_time_brin ON pings USING brin (time) WITH (pages_per_range = 32, autosummarize = on);
