-- The machine whose agent wrote a file (the config's machine.id): several machines may write one team
-- warehouse, and a path is unique per machine, not globally. Rows stored before this migration have
-- NULL; the raw capture gives them to the machine that runs it (raw/capture.py claim_unowned_rows),
-- since a warehouse file had one machine. Sources added later get the column with their tables
-- (raw/tables.py).
ALTER TABLE raw.claude_code_lines ADD COLUMN machine_id VARCHAR;
ALTER TABLE raw.claude_code_files ADD COLUMN machine_id VARCHAR;
ALTER TABLE raw.codex_lines ADD COLUMN machine_id VARCHAR;
ALTER TABLE raw.codex_files ADD COLUMN machine_id VARCHAR;
ALTER TABLE raw.hook_spool_lines ADD COLUMN machine_id VARCHAR;
ALTER TABLE raw.hook_spool_files ADD COLUMN machine_id VARCHAR;
