"""A TfidfVectorizer whose vocabulary does not depend on the CPU it was fitted on.

With `max_features`, scikit-learn keeps the most frequent terms by `argsort`, which is not stable; numpy sorts
with different kernels on different CPUs (AVX-512 or not), so terms tied at the cut were chosen differently from
one machine to the next, and with them the trained model and its held-out figures (0.9193 on one machine,
0.9179 on another, same commit and data). Here ties go to the term that sorts first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer


class StableTfidfVectorizer(TfidfVectorizer):
    def _limit_features(
        self, X: Any, vocabulary: dict[str, int], high: Any = None, low: Any = None, limit: int | None = None
    ) -> Any:
        pruned = super()._limit_features(X, vocabulary, high, low, None)  # document-frequency bounds only
        if isinstance(pruned, tuple):  # scikit-learn's answer when there was nothing to prune
            pruned = pruned[0]
        if limit is None or pruned.shape[1] <= limit:
            return pruned
        # Columns are in term order here, so a stable sort breaks frequency ties by term.
        frequency = np.asarray(pruned.sum(axis=0)).ravel()
        keep = np.sort(np.argsort(-frequency, kind="stable")[:limit])
        new_index = np.full(pruned.shape[1], -1, dtype=np.int64)
        new_index[keep] = np.arange(len(keep))
        for term, old in list(vocabulary.items()):
            if new_index[old] >= 0:
                vocabulary[term] = int(new_index[old])
            else:
                del vocabulary[term]
        return pruned[:, keep]
