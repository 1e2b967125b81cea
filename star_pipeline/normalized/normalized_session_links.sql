-- normalized_session_links: the edges between sessions that later layers walk.
--   subagent / compaction: an agent file's session -> its main session
--   summary:   a file's summary line (leafUuid) -> the session holding that uuid
--   resume:    a session starting with copies of another's records -> the earlier session
--   compact_boundary: a compaction inside one session (logicalParentUuid), self-link
-- An incremental run recomputes the links from the sessions its new messages can
-- change ({session_scope}: see storage/watermarks.py); on a full build every filter is TRUE.
-- NOT MATERIALIZED: DuckDB would otherwise store these CTEs, every column of every
-- message, once each (1.1 s at 1 GB; inlined, the whole query takes 0.2 s).
--
-- Columns:
--   source: the agent of both sessions
--   link_type: subagent, compaction, summary, resume or compact_boundary (see above)
--   from_session_key: the session the link starts from
--   to_session_key: the session it points at
--   via_uuid: the record that makes the link (a summary's leafUuid, a compaction's logicalParentUuid)
-- Preview: link_type, from_session_key, to_session_key, source
WITH all_keyed AS NOT MATERIALIZED (
    SELECT * FROM normalized.normalized_messages WHERE session_id IS NOT NULL
),
keyed AS NOT MATERIALIZED (
    -- the sessions whose links this query computes
    SELECT * FROM all_keyed WHERE {session_scope}
),
uuid_rows AS NOT MATERIALIZED (
    -- every record carrying a uuid those sessions hold or name as a summary leaf
    SELECT * FROM all_keyed
    WHERE {uuid_scope}
),
file_starts AS (
    SELECT source, path, file_version, min(event_ts) AS file_first_ts, max(event_ts) AS file_last_ts
    FROM all_keyed WHERE {uuid_files} GROUP BY ALL
),
linking_uuids AS (
    -- the only uuids that can make a link: those in more than one session, and summary leaves
    SELECT uuid FROM uuid_rows WHERE uuid IS NOT NULL GROUP BY uuid HAVING count(DISTINCT session_key) > 1
    UNION
    SELECT leaf_uuid FROM keyed WHERE record_type = 'summary' AND leaf_uuid IS NOT NULL
),
uuid_owner AS (
    -- the session where a uuid first appears: the one whose file started first
    -- (a resumed session's copies carry the original timestamps; on a tie the file that ended first)
    SELECT k.uuid, k.session_key FROM uuid_rows k JOIN file_starts f USING (source, path, file_version)
    WHERE k.uuid IN (SELECT uuid FROM linking_uuids)
    QUALIFY row_number() OVER (PARTITION BY k.uuid ORDER BY f.file_first_ts, f.file_last_ts, k.event_ts, k.path, k.byte_offset) = 1
)
SELECT DISTINCT source, 'subagent' AS link_type, session_key AS from_session_key, session_id AS to_session_key,
       CAST(NULL AS VARCHAR) AS via_uuid
FROM keyed WHERE file_kind IN ('subagent', 'inline_sidechain')
UNION
SELECT DISTINCT source, 'compaction', session_key, session_id, NULL
FROM keyed WHERE file_kind = 'compaction'
UNION
SELECT DISTINCT k.source, 'summary', k.session_key, o.session_key, k.leaf_uuid
FROM keyed k JOIN uuid_owner o ON o.uuid = k.leaf_uuid
WHERE k.record_type = 'summary' AND o.session_key <> k.session_key
UNION
SELECT DISTINCT k.source, 'resume', k.session_key, o.session_key, NULL
FROM keyed k JOIN uuid_owner o ON o.uuid = k.uuid
WHERE o.session_key <> k.session_key AND k.file_kind = 'main'
  AND o.session_key NOT LIKE k.session_key || ':%' AND k.session_key NOT LIKE o.session_key || ':%'
UNION
SELECT DISTINCT source, 'compact_boundary', session_key, session_key, logical_parent_uuid
FROM keyed WHERE record_type = 'system' AND subtype = 'compact_boundary'
