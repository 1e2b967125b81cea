-- Items for derived_session_kinds: one per normalized session, with the fields its rules test.
-- {scope} (on the sessions `s`) is TRUE: every run classifies every session.
SELECT
    s.source, s.session_key, s.file_kind, s.entrypoint, s.tool_version, s.record_count,
    EXISTS (SELECT 1 FROM normalized.normalized_session_links l
            WHERE l.link_type = 'resume' AND l.from_session_key = s.session_key) AS has_resume_link,
    EXISTS (SELECT 1 FROM normalized.normalized_session_links l
            WHERE l.link_type = 'summary' AND l.from_session_key = s.session_key) AS has_summary_link
FROM normalized.normalized_sessions s
WHERE {scope}
