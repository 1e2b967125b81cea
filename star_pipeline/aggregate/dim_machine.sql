-- dim_machine: one row per machine whose agents' sessions are in the warehouse: the config's
-- machine.id (default: the host name) that its raw rows carry; a team warehouse has several.
-- A machine's numbers here come from its sessions (session_projects.machine_id: the machine whose
-- lines made each session). Type 1: first and last seen and the session count are recomputed on
-- every build, from event times, so a rebuild gives the same rows. The explicit '(unknown)'
-- machine is what facts point at for a session none is recorded for.
--
-- Columns:
--   hash_key: dimension_key of machine_id: what the facts' machine_key holds
--   machine_id: the machine's name (its machine.id); the natural key
--   first_seen_at: the first event of its sessions
--   last_seen_at: the last event of its sessions
--   session_count: its sessions (session ids, subagents and compactions in their session)
--   record_source: the tables the rows come from
-- Preview: machine_id, session_count, first_seen_at, last_seen_at
WITH machine_sessions AS (
    SELECT sp.machine_id, sp.source, sp.session_id, min(s.first_event_ts) AS first_event_ts,
           max(s.last_event_ts) AS last_event_ts
    FROM aggregate.session_projects sp
    LEFT JOIN normalized.normalized_sessions s USING (source, session_id)
    GROUP BY ALL
),
machines AS (
    SELECT machine_id, min(first_event_ts) AS first_seen_at, max(last_event_ts) AS last_seen_at,
           count(*) AS session_count
    FROM machine_sessions GROUP BY machine_id
    UNION ALL
    SELECT '(unknown)', NULL, NULL, 0 WHERE NOT EXISTS (SELECT 1 FROM machine_sessions WHERE machine_id = '(unknown)')
)
SELECT dimension_key([machine_id]) AS hash_key, machine_id, first_seen_at, last_seen_at, session_count,
    'aggregate.session_projects, normalized.normalized_sessions' AS record_source,
    '{pipeline_version}' AS pipeline_version
FROM machines
