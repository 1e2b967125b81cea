-- json_text_unescaped(text): JSON text with its common string escapes undone (\n, \t, \r, \", \/, \\),
-- so that patterns see a tool input's lines as lines (a secret at the start of a line of a
-- shell command follows a newline, not the letter n). Used by the secret and message classifiers.
CREATE MACRO json_text_unescaped(s) AS
    replace(replace(replace(replace(replace(replace(s, '\\', chr(1)), '\n', chr(10)), '\t', chr(9)), '\r', chr(13)),
            '\"', '"'), '\/', '/').replace(chr(1), '\');
