"""The words of the search index, one definition for the texts (aggregate/search_postings.py, at build time)
and for a query (search/query.py): lower case, accents stripped, split into runs of letters or digits in
any script, each Chinese or Japanese character a word of its own (they are written without spaces), English
stop words dropped, Porter-stemmed by DuckDB's fts extension (`stem`, loaded offline). The stop words are
the fts extension's own English list, read from it once per process.
"""

from __future__ import annotations

import functools

from star_pipeline.storage.warehouse import load_extension

WORD_SEPARATORS = r"[^\p{L}\p{N}]+"
_CJK_CHARACTERS = r"([\p{Han}\p{Hiragana}\p{Katakana}])"


def words_sql(text: str, keys: str, source: str) -> str:
    """SQL: rows (keys..., term) of every index word of the expression `text` over each row of `source`
    (a table or a parenthesized query); needs `prepare(conn)` first."""
    spaced = f"regexp_replace({text}, '{_CJK_CHARACTERS}', ' \\1 ', 'g')"
    return f"""
        SELECT {keys}, stem(w, 'porter') AS term FROM (
            SELECT {keys}, unnest(string_split_regex(lower(strip_accents({spaced})), '{WORD_SEPARATORS}')) AS w
            FROM {source})
        WHERE w <> '' AND w NOT IN (SELECT sw FROM stopwords)"""


@functools.lru_cache(maxsize=1)
def english_stopwords() -> tuple[str, ...]:
    """The fts extension's English stop words (it keeps them in its index-building code, not in a table)."""
    import duckdb

    probe = duckdb.connect()
    try:
        load_extension(probe, "fts")
        probe.execute("CREATE TABLE probe AS SELECT 1 AS id, 'x' AS body")
        probe.execute("PRAGMA create_fts_index('probe', 'id', 'body', stopwords = 'english')")
        return tuple(row[0] for row in probe.execute("SELECT sw FROM fts_main_probe.stopwords ORDER BY sw").fetchall())
    finally:
        probe.close()


def prepare(conn) -> None:
    """Make `words_sql` usable on `conn`: the fts extension loaded, a temp table `stopwords`(sw)."""
    load_extension(conn, "fts")
    conn.execute("CREATE OR REPLACE TEMP TABLE stopwords AS SELECT unnest(CAST(? AS VARCHAR[])) AS sw", [list(english_stopwords())])
