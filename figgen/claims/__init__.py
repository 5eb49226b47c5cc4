"""The seeds' published claims, each next to what this build computes for it.

A claim is a statement a source document makes (a number, or a qualitative finding) that a figure
of this site recomputes. It is registered once, here:

    Claim(id="embedding.w-e-params", source=SEED_000.at("Token embedding"),
          statement="GPT-2 124M's token embedding matrix W_E holds 38,597,376 parameters.",
          about=GPT2_SMALL, keys=("embedding.params:W_E_params",), published=38_597_376, tolerance=0)

`keys` name the figure data that compute it (`figure-id:data.key`, read from the manifest); a
`compute` function turns those values into the compared quantity when it is not one of them. A
claim is checked either against `published` within `tolerance` (absolute), or by a `predicate` on
the computed value for a qualitative claim (`published` then says what the source found, in words).

Status is computed, never typed (`evaluate`):
    reproduced      this build's model is the one the claim is about, and the value agrees
    not reproduced  it is, and the value disagrees: a finding, shown as one (never a build error)
    not comparable  it is, but the source's setup cannot be rebuilt (`not_comparable` says why): the
                    value is shown, not judged
    other model     the claim is about GPT-2 (124M, or any size for GPT2_FAMILY claims) and this
                    build traced another model: its value is shown, but not compared
    not computed    the figure that computes it is not in this build (`figgen build --only …`)
Claims `about=ARCHITECTURE` hold for any GPT-2-architecture model (identities, weight tying) and
are compared whatever the model.

The manifest records `claims: [{id, status, published, computed, …}]`; the MkDocs plugin places
`{{ claim ID }}` badges and builds the Claims page from the same records.
"""

from __future__ import annotations

from typing import Any

from . import day_circuit, infographic, lens, vocabulary
from .core import (ARCHITECTURE, GPT2_FAMILY, GPT2_HUB, GPT2_SMALL, SEED_000, SEED_002, SEED_003, SEED_004, STATUSES,  # noqa: F401 (re-exported)
                   Claim, Source, show)

#: Every registered claim, source by source, in the order the Claims page lists them.
CLAIMS: tuple[Claim, ...] = infographic.CLAIMS + lens.CLAIMS + vocabulary.CLAIMS + day_circuit.CLAIMS
BY_ID: dict[str, Claim] = {c.id: c for c in CLAIMS}

# --- evaluation -----------------------------------------------------------------------------------


def _lookup(data: Any, key: str) -> Any:
    for part in key.split("."):
        if isinstance(data, list) and part.lstrip("-").isdigit():
            data = data[int(part)]
        else:
            data = data[part]
    return data


def computed_value(claim: Claim, figures: dict[str, dict]) -> Any:
    """The claim's computed quantity from manifest figure entries (id → entry); KeyError if absent."""
    values = []
    for key in claim.keys:
        fid, path = key.split(":", 1)
        values.append(_lookup(figures[fid]["data"], path))
    return claim.compute(*values) if claim.compute else values[0]


def _is_gpt2(model_info: dict) -> bool:
    return model_info.get("source") == "hub" and model_info.get("name", "").split("@")[0] in GPT2_HUB


def _about_built(claim: Claim, model_info: dict) -> bool:
    """Whether the model built is the one the claim is about (an architecture claim: only GPT-2 124M)."""
    if claim.about == GPT2_FAMILY:
        return bool(model_info.get("is_gpt2_small") or _is_gpt2(model_info))
    return bool(model_info.get("is_gpt2_small"))


def status(claim: Claim, computed: Any, model_info: dict) -> str:
    if claim.about == GPT2_SMALL and not model_info.get("is_gpt2_small"):
        return "other model"
    if claim.about == GPT2_FAMILY and not (model_info.get("is_gpt2_small") or _is_gpt2(model_info)):
        return "other model"
    if claim.not_comparable:
        return "not comparable"
    if claim.predicate is not None:
        ok = bool(claim.predicate(computed))
    else:
        ok = abs(computed - claim.published) <= (claim.tolerance or 0)
    return "reproduced" if ok else "not reproduced"


def evaluate(manifest: dict) -> list[dict]:
    """Every registered claim as a manifest record (plain JSON), in registry order."""
    figures = {e["id"]: e for e in manifest["figures"]}
    model = manifest["model"]
    records = []
    for claim in CLAIMS:
        try:
            computed = computed_value(claim, figures)
        except (KeyError, IndexError, TypeError):
            computed, state = None, "not computed"
        else:
            state = status(claim, computed, model)
        if isinstance(computed, float):
            computed = float(f"{computed:.6g}")
        records.append({
            "id": claim.id, "status": state, "about_built": _about_built(claim, model), "short": claim.short, "statement": claim.statement, "about": claim.about,
            "published": claim.published, "published_text": show(claim.published, claim.fmt),
            "computed": computed, "computed_text": show(computed, claim.fmt), "test": claim.test(),
            "conventions": claim.conventions, "checked": claim.checked,
            "not_comparable": claim.not_comparable, "figures": list(claim.figures), "section": claim.section,
            "source": {"seed": claim.source.seed, "title": claim.source.title, "short": claim.source.short,
                       "url": claim.source.url, "section": claim.source.section},
            "model": f"{model.get('name', '')}@{model.get('revision', '')}",
            "prompts": sorted({p for f in claim.figures if f in figures for p in figures[f].get("prompts", [])}),
        })
    return records


def markdown_table(records: list[dict]) -> str:
    """The claims of a manifest as a Markdown table (the deploy job's summary, `figgen claims`)."""
    def cell(text) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    counts = {s: sum(r["status"] == s for r in records) for s in STATUSES}
    lines = [f"{len(records)} claims: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n) + ".", "",
             "| claim | published | this build | status |", "|---|---|---|---|"]
    lines += [f"| {cell(r['statement'])} (`{r['id']}`) | {cell(r['published_text'])} | {cell(r['computed_text'])} "
              f"| {r['status']} |" for r in records]
    return "\n".join(lines) + "\n"
