"""How the copies that leave the warehouse hide what a flagged secret was in, beyond the texts themselves.

Texts are masked in aggregate.search_documents (every span the secret classifier flagged becomes
[secret:<kind>]). A tool call's target path is not a text the classifier reads, so it is hidden by what its
masked input says (TARGET_MASKED); a repository URL is not read either, and a token or password in it
(https://user:token@host/...) is replaced (REPOSITORY_URL_MASKED). Used by the search copy
(aggregate/search_copy.py) and the star copy `star-pipeline sql` and `export` read (reports/star_copy.py).
"""

# A call's target path, taken from its input (file_path, path ...), is hidden when a flagged secret was in it: when
# the call's masked input holds a [secret:...] and no longer holds the path. (A shell call's target is its working
# folder, not in its input: it is hidden too when its command held a secret. Better hidden than leaked.)
# `c` is the call (normalized_tool_calls), `i` its message in aggregate.search_documents.
SECRET_PATH = "[secret]"
TARGET_MASKED = "(contains(i.tool_input, '[secret:') AND NOT contains(i.tool_input, c.target_path))"


def repository_url_masked(column: str) -> str:
    """SQL: `column` (a repository URL) with the user part of an http(s) URL replaced by [secret] (a token or
    password is written there: https://x-access-token:ghp_...@github.com/o/r). An ssh user (git@host:o/r) stays."""
    return f"regexp_replace({column}, '^(https?://)[^/@]+@', '\\1{SECRET_PATH}@')"
