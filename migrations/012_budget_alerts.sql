-- The budget alerts: one row per budget, window and level the first time the budget alert sensor saw the budget
-- cross it (budgets/sensors.py, recorded by budgets/alerts.py). A log, not derived from the layers
-- below: no rebuild replaces it, and a row is never written twice (the recording step skips a budget, window
-- and level already there).
-- Columns:
--   budget: the budget's name (config `budgets`)
--   period: day, week, month, block or session
--   window_label: the window the budget crossed in (a date, `week of <Sunday>`, a month, a block's start, a session)
--   level: warn (past warn_at of the limit) or limit (at or past the limit)
--   spent_usd, spent_tokens: what the budget had spent in the window when the crossing was seen
--   limit_usd, limit_tokens: the budget's limit then (one of the two)
--   noticed_at: when the sensor saw the crossing (from the budgets file the last build published)
--   recorded_at: when the row was written
--   pipeline_version: the pipeline that recorded it (as every aggregate row carries it)
-- Preview: budget, window_label, level, spent_usd, limit_usd, noticed_at
CREATE TABLE aggregate.budget_alerts (
    budget       VARCHAR NOT NULL,
    period       VARCHAR NOT NULL,
    window_label VARCHAR NOT NULL,
    level        VARCHAR NOT NULL,
    spent_usd    DOUBLE,
    spent_tokens BIGINT,
    limit_usd    DOUBLE,
    limit_tokens BIGINT,
    noticed_at   TIMESTAMPTZ NOT NULL,
    recorded_at  TIMESTAMPTZ NOT NULL,
    pipeline_version VARCHAR
);
