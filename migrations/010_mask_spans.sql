-- mask_spans(text, spans): `text` with each span replaced by [secret:<kind>]. `spans` is a list of
-- {o: start, e: end, k: kind} (0-based character offsets, end exclusive) in order of start, as
-- derived_secret_findings locates secrets; overlapping spans are masked as one stretch (each piece
-- of text resumes after the furthest end so far). NULL or empty spans: the text as it is.
CREATE MACRO mask_spans(t, spans) AS (
    CASE WHEN t IS NULL OR spans IS NULL OR len(spans) = 0 THEN t
    ELSE left(t, spans[1].o) || array_to_string(list_transform(range(1, len(spans) + 1), lambda i:
        '[secret:' || spans[i].k || ']'
        || substr(t, list_max(list_transform(spans[1:i], lambda x: x.e)) + 1,
                  greatest(0, CASE WHEN i < len(spans) THEN spans[i + 1].o ELSE length(t) END
                              - list_max(list_transform(spans[1:i], lambda x: x.e))))), '')
    END
);

-- mask_key_blocks(text): after mask_spans, the body of each private key whose BEGIN line was masked
-- (the secret classifier's private_key_block kind flags that line) masked with it, up to and
-- including its END line, or to the end of the text when the END line is missing (cut off).
CREATE MACRO mask_key_blocks(t) AS
    regexp_replace(t, '\[secret:private_key_block\][\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)',
                   '[secret:private_key_block]', 'g');
