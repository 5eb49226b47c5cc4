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
    assert d["first_label"] in d["verdict"]


def test_repetition_of_words_is_noticed_sentences_less(mini_site):
    d = mini_site["logit-lens.repetition"]["figure"].data
    words, sentence = d["words"], d["sentence"]
    assert words["final_share"] >= 0.8  # mini was trained to copy runs of arbitrary words
    assert sentence["final_share"] < words["final_share"]
    assert words["first_label"] is not None and words["first_label"] in words["verdict"]


def test_explorer_covers_every_cell(mini_site):
    out = mini_site["logit-lens.explorer"]
    top1 = mini_site["logit-lens.top1"]["figure"].data
    assert out["figure"].data["n_cells"] == 5 * (top1["n_tokens"] - 1)
    params = {p["name"] for p in out["vl"]["params"]}
    assert {"metric", "start"} <= params
    assert '"range": "magnitude"' in __import__("json").dumps(out["vl"])  # themed by name, not a fixed scheme
