-- dim_date: every UTC date from the first to the last event in the facts.
--
-- Columns:
--   date_key: the date as YYYYMMDD (the facts' date_key)
--   calendar_date: the date
--   year: its year
--   quarter: its quarter, 1-4
--   month: its month, 1-12
--   year_month: 'YYYY-MM'
--   iso_year: its ISO 8601 year
--   iso_week: its ISO 8601 week, 1-53
--   day_of_week: 0 (Sunday) to 6 (Saturday)
--   day_name: Monday ... Sunday
--   is_weekend: Saturday or Sunday
-- Preview: date_key, calendar_date, day_name, iso_week, year_month, is_weekend
WITH bounds AS (
    SELECT min(d) AS first_day, max(d) AS last_day FROM (
        SELECT CAST(event_ts AT TIME ZONE 'UTC' AS DATE) AS d FROM aggregate.fact_token_usage
        UNION ALL SELECT CAST(called_at AT TIME ZONE 'UTC' AS DATE) FROM normalized.normalized_tool_calls
        UNION ALL SELECT CAST(received_at AT TIME ZONE 'UTC' AS DATE) FROM normalized.normalized_hook_events)
)
SELECT CAST(strftime(d, '%Y%m%d') AS INTEGER) AS date_key, CAST(d AS DATE) AS calendar_date,
    year(d) AS year, quarter(d) AS quarter, month(d) AS month, strftime(d, '%Y-%m') AS year_month,
    isoyear(d) AS iso_year, week(d) AS iso_week, dayofweek(d) AS day_of_week, strftime(d, '%A') AS day_name,
    dayofweek(d) IN (0, 6) AS is_weekend, '{pipeline_version}' AS pipeline_version
FROM bounds, range(first_day, last_day + INTERVAL 1 DAY, INTERVAL 1 DAY) AS t(d)
WHERE first_day IS NOT NULL
