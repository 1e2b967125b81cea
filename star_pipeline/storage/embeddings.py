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
        return lambda texts: np.asarray(model.embed(texts), dtype=np.float32)
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


def embed(name: str, texts: list[str]) -> np.ndarray:
    """Unit-length vectors (one row per text) of the heads of `texts`, by the model `name`."""
    import numpy as np

    vectors = _load(name)([text[:EMBED_CHARS] for text in texts])
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)
