-- Hypervision schema, version 3: the scene log keeps keyframes and patches.
-- A full scene at every change would be tens of kilobytes several times a second; a keyframe
-- now and then plus the RFC 6902 patches between them answer "what did the wall show at T"
-- exactly, for a fraction of the space.
ALTER TABLE scene_log ADD COLUMN kind text NOT NULL DEFAULT 'scene' CHECK (kind IN ('scene', 'patch'));
ALTER TABLE scene_log ADD COLUMN base bigint;
