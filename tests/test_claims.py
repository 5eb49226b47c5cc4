"""The claims registry: structure, status on hand-built data, badges, escaping, and GPT-2 itself."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from figgen import claims
from figgen.claims import ARCHITECTURE, CLAIMS, GPT2_FAMILY, GPT2_SMALL, Claim, evaluate
from figgen.figures.registry import PAGES, SECTIONS, load_all
from figgen.mkdocs_plugin import FiggenPlugin, claim_badge, claims_table

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared" / "seeds"
GPT2_INFO = {"name": "gpt2", "revision": "607a30d", "is_gpt2_small": True}
MINI_INFO = {"name": "mini", "revision": "abc", "is_gpt2_small": False}


def test_registry_structure():
    specs = load_all()
    ids = [c.id for c in CLAIMS]
    assert len(ids) == len(set(ids)), "duplicate claim id"
    for c in CLAIMS:
        assert re.fullmatch(r"[a-z][a-z0-9-]*\.[a-z0-9][a-z0-9_-]*", c.id), c.id
        assert c.section in SECTIONS and c.section in PAGES, f"{c.id}: its section has no page"
        assert c.statement.strip() and c.about in {GPT2_SMALL, GPT2_FAMILY, ARCHITECTURE}
        assert c.source.url.startswith("https://") and c.source.seed and c.source.section
        assert c.keys and all(k.split(":", 1)[0] in specs for k in c.keys), f"{c.id}: unknown figure in {c.keys}"
        # Either a number with a tolerance, or a predicate with its criterion in words.
        if c.predicate is None:
            assert isinstance(c.published, (int, float)) and c.tolerance is not None, c.id
        else:
            assert c.criterion and isinstance(c.published, str), c.id
        if SEEDS.is_dir():
            assert (SEEDS / c.source.seed).is_file(), c.source.seed


def test_every_claim_is_computed_from_a_mini_build(mini_site):
    """The keys resolve in real figure data, and the statuses follow from mini's values."""
    figures = [{"id": fid, "data": mini_site[fid]["figure"].data}
               for fid in sorted({f for c in CLAIMS for f in c.figures})]
    records = {r["id"]: r for r in evaluate({"figures": figures, "model": MINI_INFO})}
    for c in CLAIMS:
        r = records[c.id]
        assert r["status"] != "not computed", c.id
        if c.about in (GPT2_SMALL, GPT2_FAMILY):
            assert r["status"] == "other model", c.id  # mini is not GPT-2: shown, not compared
        else:
            assert r["status"] == "reproduced", (c.id, r["computed"])  # identities hold on any GPT-2
    assert records["embedding.w-e-params"]["computed"] == mini_site["embedding.params"]["figure"].data["W_E_params"]


def _claim(**kw) -> Claim:
    base = dict(id="embedding.test", source=claims.SEED_000.at("Token embedding"), statement="S",
                about=GPT2_SMALL, keys=("embedding.params:x",), published=100, tolerance=1, fmt=",")
    return Claim(**{**base, **kw})


def _evaluate(claim: Claim, data: dict | None, model: dict) -> dict:
    figures = [] if data is None else [{"id": "embedding.params", "data": data}]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(claims, "CLAIMS", (claim,))
        (record,) = evaluate({"figures": figures, "model": model})
    return record


@pytest.mark.parametrize("value, model, status", [
    (100, GPT2_INFO, "reproduced"), (101, GPT2_INFO, "reproduced"), (102, GPT2_INFO, "not reproduced"),
    (102, MINI_INFO, "other model"), (None, GPT2_INFO, "not computed"),
])
def test_status_on_hand_built_data(value, model, status):
    record = _evaluate(_claim(), None if value is None else {"x": value}, model)
    assert record["status"] == status
    assert record["computed"] == value and record["published_text"] == "100"


def test_not_comparable_claims_are_shown_not_judged():
    claim = _claim(not_comparable="the source's template is lost", checked="TransformerLens, in a test")
    assert _evaluate(claim, {"x": 100}, GPT2_INFO)["status"] == "not comparable"
    assert _evaluate(claim, {"x": 5}, GPT2_INFO)["status"] == "not comparable"
    record = _evaluate(claim, {"x": 5}, MINI_INFO)
    assert record["status"] == "other model"  # about a model not built: that comes first
    badge = claim_badge(record | {"status": "not comparable"}, "")
    assert "∼ not comparable</strong>" in badge and "Not compared: the source&#39;s template is lost" in badge
    assert "Checked against TransformerLens, in a test" in badge


def test_predicate_and_architecture_claims():
    claim = _claim(about=ARCHITECTURE, published="exact", tolerance=None, predicate=lambda v: v == 0.0,
                   criterion="Reproduced when exactly 0", fmt=".1e")
    assert _evaluate(claim, {"x": 0.0}, MINI_INFO)["status"] == "reproduced"  # compared on any model
    bad = _evaluate(claim, {"x": 3e-7}, GPT2_INFO)
    assert bad["status"] == "not reproduced" and bad["computed_text"] == "3.0e-07"
    assert bad["test"] == "Reproduced when exactly 0"
    from figgen.mkdocs_plugin import status_text

    on_mini = _evaluate(claim, {"x": 0.0}, MINI_INFO)
    assert status_text(on_mini) == "holds (for any GPT-2-architecture model)"  # not "reproduced" on mini
    assert status_text(_evaluate(claim, {"x": 0.0}, GPT2_INFO)) == "reproduced"


def test_compute_combines_keys():
    claim = _claim(keys=("embedding.params:a", "embedding.params:b"), compute=lambda a, b: a / b,
                   published=0.5, tolerance=0.01, fmt=".0%")
    record = _evaluate(claim, {"a": 1, "b": 2}, GPT2_INFO)
    assert record["status"] == "reproduced" and record["computed_text"] == "50%"


@pytest.mark.parametrize("status, words", [("reproduced", "✓ reproduced"), ("not reproduced", "✗ not reproduced"),
                                           ("other model", "○ about GPT-2 124M, not built here")])
def test_badge_for_each_status(status, words):
    record = _evaluate(_claim(), {"x": 7}, GPT2_INFO) | {"status": status}
    badge = claim_badge(record, "tokenization/embedding/")
    # The status is carried by words and a mark, not by colour alone; a model not built reads as no failure.
    assert f"{words}</strong>" in badge and "figgen-claim--" + status.replace(" ", "-") in badge
    assert "infographic</a>: <span class=\"figgen-claim__published\">100</span>" in badge and "this model 7" in badge
    assert 'href="../../claims/#claim-embedding.test"' in badge and 'tabindex="0"' in badge
    assert "Reproduced within ± 1" in badge  # its working: the tolerance


def test_badge_and_table_escape_untrusted_text():
    hostile = "<b>x</b> $y$ *z* & \"q\""
    record = _evaluate(_claim(published=hostile, tolerance=None, predicate=lambda v: True, criterion="c",
                              statement=hostile), {"x": hostile}, GPT2_INFO)
    record["prompts"] = [hostile]
    for out in (claim_badge(record, ""), claims_table([record], "claims/")):
        assert "<b>" not in out and "$y$" not in out and "*z*" not in out
        assert "&#60;b&#62;" in out


def test_numbers_in_pages_have_a_minus_sign():
    from figgen.mkdocs_plugin import _format

    assert _format(-0.638, ":+.1%") == "−63.8%" and _format(-3, None) == "−3" and _format(0.5, ":+.0%") == "&#43;50%"
    assert _format("-x", None) == "-x"  # text keeps its hyphens


def test_compare_table_one_row_per_claim():
    from figgen.mkdocs_plugin import compare_table

    ok = _evaluate(_claim(), {"x": 100}, GPT2_INFO)
    other = _evaluate(_claim(id="embedding.other", statement="S <b>2</b>"), {"x": 5}, MINI_INFO)
    table = compare_table([ok, other], "tokenization/embedding/", {"source": "mini", "name": "mini"})
    assert table.count("<tr><td>") == 2 and "<caption>infographic vs mini</caption>" in table
    assert "✓ reproduced" in table and "○ about GPT-2 124M, not built here" in table and "&#60;b&#62;" in table
    assert 'href="../../claims/#claim-embedding.other"' in table
    assert "<th>GPT-2 124M</th>" in compare_table([ok], "", {"is_gpt2_small": True, "name": "gpt2"})
    # none about the model built: the status is said once, under the table, not on every row
    only_other = compare_table([other, other | {"short": "In short"}], "", {"source": "mini", "name": "mini"})
    assert "<th>Status</th>" not in only_other and only_other.count("not built here") == 1
    assert only_other.lstrip().startswith('<details class="figgen-compare">')  # nothing judged: one click away
    assert "<td>In short <a" in only_other


def test_table_links_each_claim_to_its_page():
    record = _evaluate(_claim(), {"x": 100}, GPT2_INFO)
    table = claims_table([record], "claims/")
    assert 'id="claim-embedding.test"' in table and 'href="../tokenization/embedding/"' in table
    assert re.search(r"1 claim: .*✓</span> 1 reproduced</span> · .*✗</span> 0 not reproduced", _plain_html(table))


def _plain_html(text: str) -> str:
    return re.sub(r"<(?!/?span)[^>]+>", "", text)


def _words(text: str) -> str:
    """The text of some HTML, tags dropped and entities decoded."""
    import html

    return html.unescape(re.sub(r"<[^>]+>", "", text))


def test_claims_page_is_grouped_by_source_in_cards():
    """A heading per source in the registry's order; a card per claim with its statement, both values, the
    status in words and its working collapsed; the summary counts every status in words."""
    records = evaluate({"figures": [], "model": MINI_INFO})  # nothing computed: every claim still listed
    records = [r | {"status": s} for r, s in zip(records, ["reproduced", "not reproduced", "not comparable",
                                                           "other model"] * len(records))]
    page = claims_table(records, "claims/", {"source": "mini", "name": "mini"})
    headings = re.findall(r"^## (.+)$", page, re.M)
    assert headings == ["The infographic", "The logit-lens post", "McCormick&#39;s post", "Gould et al.&#39;s post"]
    assert page.count('class="figgen-claim-card ') == len(CLAIMS) == page.count("<details")
    assert "<details open" not in page and "<table" not in page and "nowrap" not in page
    for c in CLAIMS:
        assert f'id="claim-{c.id}"' in page
    summary = _words(page.split("\n\n")[1])
    n = len(records)
    counts = {s: sum(r["status"] == s for r in records) for s in ("reproduced", "not reproduced", "not comparable",
                                                                  "other model")}
    assert summary == (f"{n} claims: ✓ {counts['reproduced']} reproduced · ✗ {counts['not reproduced']} not "
                       f"reproduced · ∼ {counts['not comparable']} not comparable · ○ {counts['other model']} about a "
                       "model not built here.")
    card = page[page.index('id="claim-embedding.w-e-share"'):].split('class="figgen-claim-card ')[0]
    text = _words(card)
    assert "W_E is 31% of all of GPT-2 124M" in text and "The infographic: 31.0%" in text and "mini: —" in text
    assert "How it is checked" in text and "Test: Reproduced within ± 0.5%." in text
    lens = _words(page[page.index('id="claim-logit-lens.input-jump"'):].split('class="figgen-claim-card ')[0])
    assert "The post: one discontinuous jump" in lens


def test_card_and_badge_status_words_agree():
    record = _evaluate(_claim(), {"x": 7}, MINI_INFO)
    assert record["status"] == "other model"
    mini = {"source": "mini", "name": "mini"}
    badge, page = claim_badge(record, "tokenization/embedding/", mini), claims_table([record], "claims/", mini)
    for out in (badge, page):
        assert "○ about GPT-2 124M, not built here</strong>" in out and "other model" not in _words(out)
    assert "mini 7</span>" in badge and "mini:</span> 7</span>" in page  # the model built, named one way
    assert "○</span> 1 about a model not built here" in page
    assert 'data-status="other model"' in page  # the status as recorded, for scripts (the words are for readers)


def test_values_read_as_a_reader_expects():
    """A minus is "−"; an empty list reads "none"; a value the display rounds keeps its exact form in the working."""
    neg = _evaluate(_claim(fmt="+.3f", published=0.0, tolerance=0.01), {"x": -0.01234}, GPT2_INFO)
    page = claims_table([neg], "claims/")
    assert "−0.012" in page and "-0.012" not in page
    assert "Value before rounding:</strong> −0.01234" in page and "Value before rounding: −0.01234." in claim_badge(neg, "")
    empty = _evaluate(_claim(published="none", tolerance=None, predicate=lambda v: not v, criterion="c"),
                      {"x": []}, GPT2_INFO)
    assert empty["computed_text"] == "" and "This model:</span> none</span>" in claims_table([empty], "claims/")
    tiny = _evaluate(_claim(about=ARCHITECTURE, published="exact", tolerance=None, predicate=lambda v: v <= 1e-4,
                            criterion="c", fmt=".3f"), {"x": 6e-07}, MINI_INFO)
    assert tiny["computed_text"] == "0.000" and "Value before rounding:</strong> 6e-07" in claims_table([tiny], "")


def test_claims_page_escapes_untrusted_text():
    """Token strings and statements go through `_text` in the cards and the working: no markup, emphasis or math."""
    hostile = "␣<b>x</b> $y$ *z* _w_ `c` & \"q\""
    record = _evaluate(_claim(published=hostile, tolerance=None, predicate=lambda v: True, criterion=hostile,
                              statement=hostile, conventions=hostile, checked=hostile, not_comparable=hostile),
                       {"x": [hostile, "␣(a)"]}, GPT2_INFO)
    record["prompts"] = [hostile]
    page = claims_table([record], "claims/")
    for raw in ("<b>", "$y$", "*z*", "_w_", "`c`", "(a)"):
        assert raw not in page, raw
    assert page.count("&#60;b&#62;") == 8  # statement, published, computed, test, prompt, conventions, …
    assert "&#36;y&#36;" in page and "&#42;z&#42;" in page and "␣&#40;a&#41;" in page


def test_registry_text_reads_for_readers():
    """Reader-facing claim text: the sources by name ("the post", "the infographic"), never "seed"; a token's
    leading space as ␣ (as the figures show it), never a bare space inside quotes; no scientific notation and no
    number with 4 or more decimals in a statement or published string (exact values live in the criteria)."""
    from figgen.claims import day_circuit, lens, vocabulary

    texts = {c.id: [c.statement, str(c.published), c.criterion, c.conventions, c.checked, c.not_comparable]
             for c in CLAIMS}
    texts["modules"] = [vocabulary.VOCAB_PROMPT, vocabulary.VOCAB_READING, day_circuit.DATASETS, lens.LENS]
    for cid, parts in texts.items():
        for text in parts:
            assert not re.search(r"\bseeds?\b", text, re.I), (cid, text)
            assert not re.search(r"“ \S", text), (cid, text)
    for c in CLAIMS:
        shown = [c.statement, claims.show(c.published, c.fmt)]
        for text in shown:
            assert not re.search(r"\d\.\d{4,}|\d[eE][-+]?\d", text), (c.id, text)
        assert not re.search(r"(?<![\w.])-\d", c.statement), (c.id, c.statement)  # a minus is "−"


def _plugin_with(records: list[dict]) -> FiggenPlugin:
    plugin = FiggenPlugin()
    plugin.load_config({})
    plugin.manifest = {"claims": records, "model": {"name": "mini"}, "figures": []}
    plugin.figures = {"embedding.params": {"id": "embedding.params", "data": {}}}
    return plugin


def test_unknown_claim_and_unknown_placeholders_warn(caplog):
    """Warnings make `mkdocs build --strict` fail; a not-reproduced claim is no warning."""
    record = _evaluate(_claim(), {"x": 5}, GPT2_INFO)
    assert record["status"] == "not reproduced"
    plugin = _plugin_with([record])
    page = SimpleNamespace(url="x/", file=SimpleNamespace(src_uri="x.md"))
    with caplog.at_level(logging.WARNING, logger="mkdocs.plugins.figgen"):
        out = plugin.on_page_markdown("A {{ claim embedding.test }}.", page, None, None)
    assert "not reproduced" in out and not caplog.records
    with caplog.at_level(logging.WARNING, logger="mkdocs.plugins.figgen"):
        plugin.on_page_markdown("{{ claim embedding.tset }} {{ dat embedding.params x }} {{ figure embeding.params }}",
                                page, None, None)
    messages = " | ".join(r.getMessage() for r in caplog.records)
    assert len(caplog.records) == 3, messages
    assert "unknown claim id 'embedding.tset'; did you mean embedding.test?" in messages
    assert "'{{ dat embedding.params x }}' not understood; did you mean data?" in messages
    assert "unknown figure id 'embeding.params'; did you mean embedding.params?" in messages


@pytest.mark.gpt2
def test_every_claim_is_computed_on_gpt2():
    """On GPT-2 124M (a deploy gate): every figure builds and every claim gets a computed value and a status.

    Whether a claim reproduces is not asserted: a claim that does not is a finding, which the deploy job
    publishes (its summary lists the statuses, the site's Claims page shows them). The figures are built
    into the site's own figure cache with the site's prompt, so the site build that follows in the
    deploy job takes every figure from the cache instead of computing it again."""
    from .test_model import _gpt2_available

    if not _gpt2_available():
        pytest.skip("GPT-2 124M is neither cached nor downloadable here")
    import tempfile

    import yaml

    import figgen
    from figgen.model import HUB_MODELS

    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    site = next(p["figgen"] for p in config["plugins"] if isinstance(p, dict) and "figgen" in p)
    with tempfile.TemporaryDirectory() as out:
        result = figgen.build(model="gpt2", prompt=site["prompt"], out=out, cache_dir=ROOT / site["cache_dir"],
                              progress=False)
    manifest = result.manifest
    repo, revision = HUB_MODELS["gpt2"]
    assert manifest["model"]["is_gpt2_small"] and manifest["model"]["name"] == f"{repo}@{revision}"
    assert [f["id"] for f in manifest["figures"]] == list(load_all())
    records = manifest["claims"]
    assert [r["id"] for r in records] == [c.id for c in CLAIMS]
    not_computed = [r["id"] for r in records if r["status"] == "not computed"]
    assert not not_computed, f"claims without a computed value on GPT-2 124M: {not_computed}"
    # Built with the model the claims are about: each one is judged (or shown as not comparable), whatever the verdict.
    assert {r["status"] for r in records} <= {"reproduced", "not reproduced", "not comparable"}


def test_cli_prints_claims_as_markdown(tmp_path, capsys):
    import json

    from figgen.cli import main

    record = _evaluate(_claim(statement="a | b"), {"x": 5}, GPT2_INFO)
    (tmp_path / "manifest.json").write_text(json.dumps({"model": {"name": "gpt2"}, "claims": [record]}))
    assert main(["claims", str(tmp_path)]) == 0  # a claim that does not reproduce is a finding, not an error
    out = capsys.readouterr().out
    assert "1 claims: 1 not reproduced." in out and "| a \\| b (`embedding.test`) | 100 | 5 | not reproduced |" in out
    assert main(["claims", str(tmp_path / "missing")]) == 2
    assert "run `figgen build` first" in capsys.readouterr().err


def test_family_claims_compare_on_any_gpt2_size():
    claim = _claim(about=GPT2_FAMILY)
    xl = {"name": "openai-community/gpt2-xl@abc", "source": "hub", "is_gpt2_small": False}
    other = {"name": "distilbert/distilgpt2@abc", "source": "hub", "is_gpt2_small": False}
    assert _evaluate(claim, {"x": 100}, xl)["status"] == "reproduced"
    assert _evaluate(claim, {"x": 100}, GPT2_INFO)["status"] == "reproduced"
    assert _evaluate(claim, {"x": 100}, other)["status"] == "other model"
    assert _evaluate(claim, {"x": 100}, MINI_INFO)["status"] == "other model"
