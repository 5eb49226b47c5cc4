"""The vocabulary kNN core (figgen/analysis/vocab.py): exact against brute force, filters, bias."""

import numpy as np
import pytest

from figgen.analysis import vocab as V


def brute(matrix, queries, k, rows=None, transform=None):
    rows = np.arange(len(matrix)) if rows is None else rows
    m = matrix[rows] if transform is None else transform(matrix[rows])
    cos = (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ (m / np.linalg.norm(m, axis=1, keepdims=True)).T
    order = np.argsort(-cos, axis=1, kind="stable")[:, :k]
    return rows[order], np.take_along_axis(cos, order, 1)


@pytest.mark.parametrize("chunk", [7, 64, 8192])
def test_nearest_matches_brute_force(monkeypatch, chunk):
    monkeypatch.setattr(V, "CHUNK", chunk)
    rng = np.random.default_rng(0)
    matrix, queries = rng.normal(size=(300, 16)), rng.normal(size=(9, 16))
    rows = np.flatnonzero(rng.random(300) < 0.6)
    w, b = rng.normal(size=16), rng.normal(size=16)
    transform = lambda x: V.layer_norm_rows(x, w, b, 1e-5)  # noqa: E731
    for kw in ({}, {"rows": rows}, {"rows": rows, "transform": transform}):
        got = V.nearest(matrix, queries, k=10, **kw)
        ids, cos = brute(matrix, queries, 10, kw.get("rows"), kw.get("transform"))
        np.testing.assert_array_equal(got.ids, ids)
        np.testing.assert_allclose(got.cosines, cos, atol=1e-5)


def test_nearest_excludes_and_breaks_ties_by_id():
    matrix = np.array([[1.0, 0], [2.0, 0], [0, 1.0], [1.0, 0]])
    got = V.nearest(matrix, np.array([[1.0, 0]]), k=3, exclude=np.array([1]))
    assert got.ids.tolist() == [[0, 3, 2]]


def test_layer_norm_rows_matches_torch():
    import torch

    rng = np.random.default_rng(1)
    x, w, b = rng.normal(size=(5, 12)).astype(np.float32), rng.normal(size=12), rng.normal(size=12)
    want = torch.nn.functional.layer_norm(torch.tensor(x), (12,), torch.tensor(w, dtype=torch.float32),
                                          torch.tensor(b, dtype=torch.float32), 1e-5).numpy()
    np.testing.assert_allclose(V.layer_norm_rows(x, w, b, 1e-5), want, atol=1e-5)


def test_word_mask_keeps_whole_words_only():
    tokens = [" home", "home", " Home", "ville", " 76", ".", " ", "<|endoftext|>", " café", " don't", "\ufffd", " a"]
    assert V.word_mask(tokens).tolist() == [True, False, True, False, False, False, False, False, True, False,
                                            False, True]


def test_token_bias_is_final_beta_through_unembedding():
    rng = np.random.default_rng(2)
    W_U, beta, b_U = rng.normal(size=(8, 20)), rng.normal(size=8), rng.normal(size=20)
    np.testing.assert_allclose(V.token_bias(W_U, beta), [beta @ W_U[:, t] for t in range(20)], rtol=1e-5)
    np.testing.assert_allclose(V.token_bias(W_U, beta, b_U), beta @ W_U + b_U, rtol=1e-5)


def test_high_bias_flags_lists_beyond_threshold():
    bias = np.array([0.0, 1, 2, 3, 4, 100])
    keep = np.array([True, True, True, True, True, False])
    z = V.bias_z(bias, keep)
    assert abs(z[keep].mean()) < 1e-6 and abs(z[keep].std() - 1) < 1e-6
    mean, high = V.high_bias(np.array([[0, 1], [2, 3], [1, 3]]), z, threshold=1.0)
    assert high.tolist() == [True, False, False]
    np.testing.assert_allclose(mean, [z[[0, 1]].mean(), z[[2, 3]].mean(), z[[1, 3]].mean()], rtol=1e-6)


def test_vocabulary_reads_an_embedding_as_its_own_token(mini):
    from figgen.context import Context

    ctx = Context.from_model(mini, "The baseball player hit a home run")
    voc = ctx.analysis(V.vocabulary)
    t = ctx.trace
    words = [i for i, tok in enumerate(t.tokens) if voc.keep[tok]]
    assert len(words) >= 4
    r = voc.read(t["hook_embed"][words], k=5)
    assert r.ids[:, 0].tolist() == [t.tokens[i] for i in words]
    assert voc.keep[r.ids].all()
    W = ctx.weights
    ln_embed = V.layer_norm_rows(t["hook_embed"][words], W["blocks.0.ln1.w"], W["blocks.0.ln1.b"], 1e-5)
    ln = V.in_ln_space(ctx, "blocks.0.ln1").read(ln_embed, k=5)
    assert ln.ids[:, 0].tolist() == [t.tokens[i] for i in words]  # LN(e) against LN(W_E): cosine 1
    np.testing.assert_allclose(ln.cosines[:, 0], 1, atol=1e-3)


# --- one head's lists across the prompt: the scores of the post's head claims (hand-built lists) ---------


def _reading(lists, high=()):
    """A Reading for one layer and one head: lists (pos, k) of ids, `high` the positions flagged high bias."""
    ids = np.asarray(lists, dtype=np.int64)[None, None]  # (1, 1, pos, k)
    flags = np.zeros(ids.shape[:3], bool)
    for p in high:
        flags[0, 0, p] = True
    return V.Reading(ids, np.zeros(ids.shape), np.zeros(flags.shape), flags, 1.0)


def test_head_scores_leave_the_bos_out_and_count_high_bias_as_nothing():
    # position 0 (the BOS) would match everything; position 3 is high bias
    r = _reading([[7, 8, 9], [1, 5, 6], [5, 2, 9], [3, 5, 6], [4, 5, 9]], high=[3])
    tokens = np.array([7, 1, 9, 3, 0])
    # own token in its list: at positions 1 and 2; 3 is high bias; 4's token (0) is not in its list
    assert V.self_match_share(r, tokens, 0, 0) == pytest.approx(2 / 4)
    assert V.context_share(r, 0, 0, np.array([5, 6, 9]), 2) == pytest.approx(3 / 4)  # positions 1, 2, 4
    assert V.context_share(r, 0, 0, np.array([5, 6, 9]), 3) == 0.0
    assert V.positions_with(r, 0, 0, [5, 9, 7]) == [3, 2, 0]  # 7 only at the BOS
    assert V.recurring(r, 0, 0, 2) == [5, 9]  # most positions first
    assert V.recurring(r, 0, 0, 4) == []


@pytest.mark.parametrize("word, source, ok", [
    (" Buck", " baseball", True), (" Bryce", " baseball", True), (" PA", " player", True),
    (" Hernandez", " hit", True), (" Robinson", " run", True),
    (" Baseball", " baseball", False), (" Baseballs", " baseball", False), (" HIT", " hit", False),
    (" Players", " player", False), (" buck", " baseball", False), (" Robinson", " hit", False), ("", " hit", False),
])
def test_alliterates(word, source, ok):
    assert V.alliterates(word, source) is ok


def test_alliteration_against_chance():
    words = [" Buck", " Bryce", " ball", " Baseball", " Hoffman", " hat", " Rod", " rat", "ville", " Rex"]
    keep = np.array([w.startswith(" ") for w in words])  # "ville" is no candidate
    r = _reading([[0, 1, 2], [0, 1, 2], [4, 5, 3], [6, 9, 8]], high=[2])
    a = V.alliteration(r, 0, 0, [1, 2, 3], [" baseball", " hit", " run"], words, keep)
    assert a.counts == [2, 0, 2]  # position 2 is high bias: nothing counted
    # chance among the 9 candidates: B… 2 (Buck, Bryce; not Baseball), H… 1 (Hoffman), R… 2 (Rod, Rex)
    np.testing.assert_allclose(a.chance, [2 / 9, 1 / 9, 2 / 9])
    assert a.ratio == pytest.approx(4 / (3 * 5 / 9))
