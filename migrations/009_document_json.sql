-- document_json(line_bytes): transcript_json of a piece of a JSON document (raw/documents.py). A
-- document's skeleton holds a NUL byte where each of its elements was (no JSON text holds one);
-- read as `null`, the skeleton is a JSON object of its own. Elements parse as they are.
CREATE MACRO document_json(b) AS transcript_json(encode(replace(try(decode(b)), chr(0), 'null')));
