"""Text embeddings for search: the configured model (`search.embedding_model`), loaded without the network.

"wordllama" (default) is WordLlama's l2_supercat model at 256 dimensions, whose weights and tokenizer
ship inside the `wordllama` wheel: it averages token embeddings, so it is fast (some 30,000 short texts
a second on one core) and knows English best; other languages get what their tokens share with it.
"sentence-transformers:<name>" and "fastembed:<name>" load that library's model the way the library
does (its own cache; install the library and fetch the model once). An embedding's version is the
model's id (`model_id`): vectors of another model are never compared with these.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np  # imported where vectors are made: the code server loads this module and never embeds

if TYPE_CHECKING:
    from tokenizers import Tokenizer

DEFAULT_MODEL = "wordllama"
EMBED_CHARS = 2000
"""The head of a text that is embedded: an averaging model gains nothing from more, and it bounds the work."""


class EmbeddingModelError(ValueError):
    """The configured embedding model cannot be loaded."""


def model_id(name: str) -> str:
    """The version of the vectors `name` makes (the model and its dimensions)."""
    return "wordllama:l2_supercat_256" if name == DEFAULT_MODEL else name


@functools.lru_cache(maxsize=2)
def _load(name: str):
    import numpy as np

    if name == DEFAULT_MODEL:
        try:
            import wordllama
            from wordllama import WordLlama
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise EmbeddingModelError(f"search.embedding_model 'wordllama' needs the wordllama package ({exc}).") from None
        # The package holds weights/ and tokenizers/; pointing its cache at itself finds both, never downloading.
        model = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
        return WordLlamaMean(model.tokenizer, model.embedding)
    library, _, model_name = name.partition(":")
    if library == "sentence-transformers" and model_name:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise EmbeddingModelError(f"search.embedding_model {name!r} needs `pip install sentence-transformers`.") from None
        model = SentenceTransformer(model_name)
        return lambda texts: np.asarray(model.encode(texts, normalize_embeddings=True), dtype=np.float32)
    if library == "fastembed" and model_name:
        try:
            from fastembed import TextEmbedding
        except ImportError:
            raise EmbeddingModelError(f"search.embedding_model {name!r} needs `pip install fastembed`.") from None
        model = TextEmbedding(model_name)
        return lambda texts: np.asarray(list(model.embed(texts)), dtype=np.float32)
    raise EmbeddingModelError(
        f"search.embedding_model is {name!r}; use 'wordllama', 'sentence-transformers:<model>' or 'fastembed:<model>'."
    )


class WordLlamaMean:
    """WordLlama's `embed` (the mean of a text's token embeddings), the same float32 values, without its padding.

    WordLlama embeds 64 texts at a time, each padded to the longest of the 64 and masked: on search texts (up
    to 2,000 characters, most far shorter) most of what it gathered, multiplied and summed was padding, and its
    tokenizer built padded encodings 64 texts a call. Here the whole batch is tokenized in one call without
    padding, texts are grouped by token count, and a padding token points at a zero row: each vector is the
    same sequential float32 sum of the same rows divided by the same count, so it is bit for bit WordLlama's
    (star_pipeline_tests/search/test_search.py compares them), in about a fifth of the CPU time."""

    GROUP = 64
    """Texts pooled at once, as WordLlama does: the token rows of 64 texts are in memory at once."""

    def __init__(self, tokenizer: Tokenizer, table: np.ndarray) -> None:
        import numpy as np
        from tokenizers import Tokenizer  # WordLlama's dependency, imported with it (search's readers import this module)

        self.tokenizer = Tokenizer.from_str(tokenizer.to_str())  # a copy: WordLlama's own pads, this one must not
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self.pad = table.shape[0]
        self.table = np.vstack([np.asarray(table, dtype=np.float32), np.zeros((1, table.shape[1]), np.float32)])

    def __call__(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        token_ids = [encoding.ids for encoding in self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)]
        counts = np.fromiter(map(len, token_ids), dtype=np.int64, count=len(texts))
        vectors = np.empty((len(texts), self.table.shape[1]), dtype=np.float32)
        by_length = np.argsort(counts, kind="stable")
        for start in range(0, len(texts), self.GROUP):
            group = by_length[start:start + self.GROUP]
            width = max(int(counts[group].max()), 1)
            ids = np.full((len(group), width), self.pad, dtype=np.int64)
            for row, text in enumerate(group):
                ids[row, :counts[text]] = token_ids[text]
            tokens = np.arange(width) < counts[group][:, np.newaxis]  # not padding
            np.clip(ids, 0, self.pad - 1, out=ids, where=tokens)  # as WordLlama clamps ids beyond its table
            sums = np.sum(self.table[ids], axis=1, dtype=np.float32)
            vectors[group] = sums / np.maximum(counts[group], 1).astype(np.float32)[:, np.newaxis]
        return vectors


def embed(name: str, texts: list[str]) -> np.ndarray:
    """Unit-length vectors (one row per text) of the heads of `texts`, by the model `name`."""
    import numpy as np

    vectors = _load(name)([text[:EMBED_CHARS] for text in texts])
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)
