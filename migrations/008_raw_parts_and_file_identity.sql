-- Raw lines longer than 64,000 bytes are stored as several rows, their parts in order
-- (part_number 1..part_count, each at its own byte_offset; only the last part carries
-- the newline), because DuckDB keeps a value over about 128 KB pinned in memory until its
-- transaction commits. Every row stored before this migration is a whole line.
ALTER TABLE raw.claude_code_lines ADD COLUMN part_number INTEGER DEFAULT 1;
ALTER TABLE raw.claude_code_lines ADD COLUMN part_count INTEGER DEFAULT 1;
ALTER TABLE raw.codex_lines ADD COLUMN part_number INTEGER DEFAULT 1;
ALTER TABLE raw.codex_lines ADD COLUMN part_count INTEGER DEFAULT 1;
ALTER TABLE raw.hook_spool_lines ADD COLUMN part_number INTEGER DEFAULT 1;
ALTER TABLE raw.hook_spool_lines ADD COLUMN part_count INTEGER DEFAULT 1;

-- The manifest: path_bytes holds a file name that is not valid UTF-8 as the file system has it
-- (`path` then writes the undecodable bytes as \xNN); inode and ctime join size and mtime in the
-- change signature (NULL until the next run sees the file); capture_error says why the last run
-- could not read the file (NULL when it could).
ALTER TABLE raw.claude_code_files ADD COLUMN path_bytes BLOB;
ALTER TABLE raw.claude_code_files ADD COLUMN inode BIGINT;
ALTER TABLE raw.claude_code_files ADD COLUMN ctime TIMESTAMPTZ;
ALTER TABLE raw.claude_code_files ADD COLUMN capture_error VARCHAR;
ALTER TABLE raw.codex_files ADD COLUMN path_bytes BLOB;
ALTER TABLE raw.codex_files ADD COLUMN inode BIGINT;
ALTER TABLE raw.codex_files ADD COLUMN ctime TIMESTAMPTZ;
ALTER TABLE raw.codex_files ADD COLUMN capture_error VARCHAR;
ALTER TABLE raw.hook_spool_files ADD COLUMN path_bytes BLOB;
ALTER TABLE raw.hook_spool_files ADD COLUMN inode BIGINT;
ALTER TABLE raw.hook_spool_files ADD COLUMN ctime TIMESTAMPTZ;
ALTER TABLE raw.hook_spool_files ADD COLUMN capture_error VARCHAR;

-- transcript_json(line_bytes): as in 005, but only LONE surrogate escapes become \ufffd; a valid
-- pair (an emoji written as \ud83d\ude00) on the same line is kept (it is set aside as
-- \x01XXXX\x02YYYY, which no JSON text contains unescaped, while the lone ones are replaced).
CREATE OR REPLACE MACRO transcript_json(b) AS (
    CASE
        WHEN try(json_type(try(decode(b)))) = 'OBJECT' THEN try(decode(b))
        WHEN try(json_type(regexp_replace(regexp_replace(regexp_replace(try(decode(b)),
                '\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})', chr(1) || '\1' || chr(2) || '\2', 'g'),
                '\\u[dD][89a-fA-F][0-9a-fA-F]{2}', '\\ufffd', 'g'),
                chr(1) || '([0-9a-fA-F]{4})' || chr(2) || '([0-9a-fA-F]{4})', '\\u\1\\u\2', 'g'))) = 'OBJECT'
            THEN regexp_replace(regexp_replace(regexp_replace(try(decode(b)),
                '\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})', chr(1) || '\1' || chr(2) || '\2', 'g'),
                '\\u[dD][89a-fA-F][0-9a-fA-F]{2}', '\\ufffd', 'g'),
                chr(1) || '([0-9a-fA-F]{4})' || chr(2) || '([0-9a-fA-F]{4})', '\\u\1\\u\2', 'g')
    END
);
