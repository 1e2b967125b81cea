-- dim_time: every minute of a day, keyed HHMM.
--
-- Columns:
--   time_key: the minute as HHMM (the facts' time_key, UTC)
--   hour: 0-23
--   minute: 0-59
--   day_part: night (0-5 h), morning (6-11 h), afternoon (12-17 h) or evening (18-23 h)
-- Preview: time_key, hour, minute, day_part
SELECT CAST(h * 100 + m AS INTEGER) AS time_key, CAST(h AS INTEGER) AS hour, CAST(m AS INTEGER) AS minute,
    CASE WHEN h < 6 THEN 'night' WHEN h < 12 THEN 'morning' WHEN h < 18 THEN 'afternoon' ELSE 'evening' END AS day_part, '{pipeline_version}' AS pipeline_version
FROM range(24) AS hours(h), range(60) AS minutes(m)
