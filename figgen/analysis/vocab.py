"""Vocabulary-space analysis: which tokens lie nearest a vector (cosine similarity)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHUNK = 8192  # vocabulary rows per block: bounds the temporary at CHUNK × n_queries floats


@dataclass(frozen=True)
class Neighbours:
    """ids (n_queries, k) of the k most similar rows of the matrix, and their cosines (n_queries, k)."""

    ids: np.ndarray
    cosines: np.ndarray


def unit_rows(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float32)
    return m / np.maximum(np.linalg.norm(m, axis=-1, keepdims=True), 1e-12)


def nearest(matrix: np.ndarray, queries: np.ndarray, k: int = 5, exclude: np.ndarray | None = None) -> Neighbours:
    """The k rows of `matrix` (n_rows, d) with the highest cosine to each query (n_queries, d).

    `exclude` (n_queries,) optionally gives one row id per query to leave out (the token itself).
    Ties break towards the lower id, so results are deterministic.
    """
    q = unit_rows(queries)  # (n_queries, d)
    best_ids = np.zeros((len(q), 0), dtype=np.int64)
    best_cos = np.zeros((len(q), 0), dtype=np.float32)
    for start in range(0, len(matrix), CHUNK):
        block = unit_rows(matrix[start:start + CHUNK])  # (chunk, d)
        cos = q @ block.T  # (n_queries, chunk)
        if exclude is not None:
            rows = np.arange(len(q))
            local = exclude - start
            inside = (local >= 0) & (local < len(block))
            cos[rows[inside], local[inside]] = -np.inf
        ids = np.broadcast_to(np.arange(start, start + len(block)), cos.shape)
        all_ids = np.concatenate([best_ids, ids], axis=1)
        all_cos = np.concatenate([best_cos, cos], axis=1)
        order = np.lexsort((all_ids, -all_cos), axis=-1)[:, :k]  # by cosine desc, then id asc
        best_ids = np.take_along_axis(all_ids, order, 1)
        best_cos = np.take_along_axis(all_cos, order, 1)
    return Neighbours(best_ids, best_cos)
