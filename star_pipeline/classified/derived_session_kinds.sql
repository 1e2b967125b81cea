-- Items for derived_session_kinds: one per normalized session, with the fields its rules test.
-- {scope} (on the sessions `s`) is TRUE: every run classifies every session.
--
-- Columns (of classified.derived_session_kinds, which classified/assets.py writes from these items):
--   source: the agent of the session
--   session_key: the session; with source its key (normalized_sessions)
--   classifier_version: the classifier version that wrote the row ('session_kinds-<8 hex of its YAML>'; the partition)
--   kind: the session's kind: the first matching rule's label (main, subagent, compaction,
--     inline_sidechain, resumed_continuation, headless ...), else the YAML's default
--   matched_rule: the 1-based number of that rule in session_kinds.yaml (NULL: the default applied)
-- Preview: kind, matched_rule, session_key, classifier_version, source
SELECT
    s.source, s.session_key, s.file_kind, s.entrypoint, s.tool_version, s.record_count,
    EXISTS (SELECT 1 FROM normalized.normalized_session_links l
            WHERE l.link_type = 'resume' AND l.from_session_key = s.session_key) AS has_resume_link,
    EXISTS (SELECT 1 FROM normalized.normalized_session_links l
            WHERE l.link_type = 'summary' AND l.from_session_key = s.session_key) AS has_summary_link
FROM normalized.normalized_sessions s
WHERE {scope}
