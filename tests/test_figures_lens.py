"""The logit-lens figures on mini: what they say follows mini's lens (its predictions, its copying)."""

from __future__ import annotations

from figgen.figures import logit_lens as LL


def test_prose_example_is_chosen_by_computation(mini_site):
    d = mini_site["logit-lens.top1"]["figure"].data
    assert d["prompt"] in LL.PROMPTS and 0 < d["n_correct"] <= d["n_predicted"]
    # mini's context (65 positions) cannot hold the seed's passage: a passage of its own domain is used.
    assert d["seed_passage"] is False and "does not fit" in d["why"]
    assert 0.25 <= d["accuracy"] <= 0.9 and d["n_shown"] <= LL.N_POS
    assert d["shown_last"] == d["n_tokens"] - 2  # the last position with a known next token


def test_kl_and_ranks_end_at_the_output(mini_site):
    kl = mini_site["logit-lens.kl"]["figure"].data
    assert kl["kl_final_mean"][-1] == 0 and kl["kl_input_mean"][0] == 0
    assert kl["kl_final_mean"][0] > kl["kl_final_mean"][1]  # the input row is the farthest from the output
    ranks = mini_site["logit-lens.ranks"]["figure"].data
    assert ranks["median_final_rank"][-1] == 1 and ranks["n_rows"] == 5


def test_plasma_is_copied_and_when(mini_site):
    d = mini_site["logit-lens.plasma"]["figure"].data
    assert d["word"] == "␣plasma" and d["final_rank"] == 1 and d["input_rank"] > 1
    assert d["ranks"][d["first_point"]:] == [1] * (len(d["ranks"]) - d["first_point"])
    assert d["first_label"] == "after attn 1"  # the verdict says it in words, with the layer's place in the depth
    assert d["verdict"] == "becomes the top guess after layer 1's attention, in the second of its 4 layers, and stays there"


def test_repetition_of_words_is_noticed_sentences_less(mini_site):
    d = mini_site["logit-lens.repetition"]["figure"].data
    words, sentence = d["words"], d["sentence"]
    assert words["final_share"] >= 0.8  # mini was trained to copy runs of arbitrary words
    assert sentence["final_share"] < words["final_share"]
    assert words["first_label"] is not None
    assert words["verdict"] == "notices the repetition " + LL.point_words(words["first_label"], d["n_layers"])
    assert sentence["verdict"].startswith("never notices the repetition")


def test_explorer_covers_every_cell(mini_site):
    out = mini_site["logit-lens.explorer"]
    top1 = mini_site["logit-lens.top1"]["figure"].data
    assert out["figure"].data["n_cells"] == 5 * (top1["n_tokens"] - 1)
    params = {p["name"] for p in out["vl"]["params"]}
    assert {"metric", "start"} <= params
    assert '"range": "magnitude"' in __import__("json").dumps(out["vl"])  # themed by name, not a fixed scheme


def test_addendum_scores_follow_the_lens(mini_site):
    import numpy as np

    ctx = mini_site.ctx
    prompt = mini_site["logit-lens.top1"]["figure"].data["prompt"]
    lz = ctx.analysis(LL.lens_of, prompt)
    after = lz.input_rank[1:, 1:]
    d = mini_site["logit-lens.input-rank"]["figure"].data
    assert d["input_top1_after"] == round(float((after == 1).mean()), 4) and d["n_cells_after"] == after.size
    assert d["worst_after"] == after.max(0).tolist()
    assert d["kept_share"] == round(float((after.max(0) < LL.RANK_BOUND).mean()), 4)
    assert "says nothing here" in d["kept_text"]  # mini's 1,283 tokens: every rank is under 10,000
    kl = mini_site["logit-lens.kl"]["figure"].data
    kf, ki = lz.kl_final[:, 1:].mean(1), lz.kl_input[:, 1:].mean(1)
    assert kl["input_jump_ratio"] == round(float(ki[1] / (kf[0] - kf[1])), 4)
    assert kl["kl_input_max"] == round(float(lz.kl_input[:, 1:].max()), 4)


def test_first_plasma_is_read_at_its_own_position(mini_site):
    from figgen.analysis import lens as L

    ctx = mini_site.ctx
    d = mini_site["logit-lens.plasma"]["figure"].data
    first = d["first_word"]
    prompt = mini_site["logit-lens.plasma"]["figure"].prompts[0]
    t = ctx.trace_of(prompt)
    target = int(t.tokens[-1])
    assert first["position"] == list(t.tokens).index(target) < d["at"]
    # The same ranks from a lens over the layers only, tracking the word at that one position.
    layers = L.lens(L.stream_points(t, ctx.dims.n_layers), t.tokens, ctx.weights, ctx.model.cfg.layer_norm_epsilon,
                    positions=[first["position"]], track=(target,))
    assert first["ranks"] == layers.tracked[target][:, 0].tolist() == layers.input_rank[:, 0].tolist()
    assert first["labels"][1:] == [f"after MLP {l}" for l in range(ctx.dims.n_layers)]
    assert first["worst_after"] == max(first["ranks"][1:]) and f"{first['worst_after']:,}" in first["text"]


def test_repetition_claim_names_the_run_it_reads():
    from figgen.claims import BY_ID

    claim = BY_ID["logit-lens.repetition-upper"]
    assert claim.keys == ("logit-lens.repetition:depth_share",)
    assert f"“{LL.REPEATS['arbitrary words']}”" in claim.conventions and "four times" in claim.conventions
    assert LL.COPIES == (4, 3, 2) and "three or two" in claim.conventions


# --- the page's opening finding and its words, on hand-built ranks (mini's and GPT-2-like shapes) ------------


def test_settling_names_the_layer_by_which_half_the_positions_settle():
    import numpy as np

    layers = np.array([-1, 0, 1, 2, 3])  # input, then after each of 4 layers
    ranks = np.array([[5, 3, 9, 2],   # input
                      [1, 2, 1, 4],   # after layer 0: positions 0 and 2 right, but 0 does not stay
                      [2, 1, 1, 1],   # after layer 1: 1, 2, 3 right from here on
                      [1, 1, 1, 1],
                      [1, 1, 1, 1]])
    s = LL.settling(ranks, layers, 4)
    assert s["half_layer"] == 1 and s["layers_needed"] == 2 and s["when"] == "by the middle of its depth"
    assert s["text"].endswith("it is the top guess, for good, after 2 of the 4 layers")
    late = np.ones((13, 6), int)
    late[:10] = 7  # a 12-layer model: every position settles after layer 9
    s = LL.settling(late, np.arange(-1, 12), 12)
    assert s["layers_needed"] == 10 and s["when"] == "only in its last layers"
    assert LL.settling(np.ones((5, 3), int), layers, 4)["when"] == "before any layer runs"


def test_discarding_at_once_or_lingering():
    import numpy as np

    labels = ["input", "after layer 0", "after layer 1", "after layer 2"]
    gone = np.array([[1, 1, 1, 1], [40, 60, 12, 200], [50, 90, 30, 70], [80, 70, 20, 60]])
    d = LL.discarding(gone, labels, 3)
    assert d["at_once"] and d["text"].startswith("The input is discarded at once")
    assert "falls from a median rank of 1 at the input to 50 after the first layer" in d["text"]
    assert d["text"].endswith("is never the lens's top guess after that")
    stays = np.array([[1, 1, 1, 1], [1, 2, 1, 3], [4, 30, 20, 40], [50, 70, 20, 60]])
    d = LL.discarding(stays, labels, 3)
    assert not d["at_once"] and d["text"].startswith("The input lingers")
    assert "leaves the top ten only after layer 1, in the second of its 3 layers" in d["text"]
    assert "is the lens's top guess at 17% of the later readings" in d["text"]


def test_point_words():
    assert LL.point_words("input", 4) == "at the input"
    assert LL.point_words("after MLP 11", 12) == "after layer 11's MLP, in the twelfth of its 12 layers"
    assert LL.point_words("after layer 30", 48) == "after layer 30, in the 31st of its 48 layers"
    assert LL.nth(13) == "13th" and LL.nth(22) == "22nd" and LL.share_words(0.004) == "fewer than 1%"
