-- transcript_json(line_bytes): the line as JSON text when it is a JSON object, else NULL.
-- Lone UTF-16 surrogate escapes (\ud83d without its pair), which JSON.parse and
-- Python accept but DuckDB's parser rejects, are replaced by \ufffd first, so
-- such a record keeps its usage instead of becoming a parse error.
CREATE MACRO transcript_json(b) AS (
    CASE
        WHEN try(json_type(try(decode(b)))) = 'OBJECT' THEN try(decode(b))
        WHEN try(json_type(regexp_replace(try(decode(b)), '\\u[dD][89a-fA-F][0-9a-fA-F]{2}', '\\ufffd', 'g'))) = 'OBJECT'
            THEN regexp_replace(try(decode(b)), '\\u[dD][89a-fA-F][0-9a-fA-F]{2}', '\\ufffd', 'g')
    END
);
