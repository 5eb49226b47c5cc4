"""What every source's claims are made of: the sources, the Claim record and how values are shown."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

GPT2_SMALL = "GPT-2 124M"
GPT2_FAMILY = "GPT-2 (the post used its 1.5B model)"  # compared on any size of OpenAI's GPT-2
ARCHITECTURE = "any GPT-2-architecture model"
GPT2_HUB = {"openai-community/gpt2", "openai-community/gpt2-medium", "openai-community/gpt2-large",
            "openai-community/gpt2-xl"}

STATUSES = ("reproduced", "not reproduced", "not comparable", "other model", "not computed")


@dataclass(frozen=True)
class Source:
    """Where a claim is published: a seed file, the section it is in, and a public link."""

    seed: str  # file name in shared/seeds/
    title: str  # the document, as cited on the site
    short: str  # how a badge names it
    url: str
    section: str = ""

    def at(self, section: str) -> "Source":
        return Source(self.seed, self.title, self.short, self.url, section)


SEED_000 = Source("000_3d5a89f57b53313f.txt", "Dolan, A Vector-Level View of GPT-2 (2024)", "infographic",
                  "https://jeremydolan.net/transformer-view/")
# The deep dives' seeds (their claims are registered with their pages).
SEED_002 = Source("002_e5262dd8bfce3da8.txt", "Gould et al., Mechanistically interpreting time in GPT-2 small",
                  "Gould et al.",
                  "https://www.lesswrong.com/posts/6tHNM2s6SWzFHv3Wo/mechanistically-interpreting-time-in-gpt-2-small")
SEED_003 = Source("003_ddb8c1b52c4745f2.txt", "McCormick, Patterns and Messages, part 6: vocabulary-based analysis (2025)",
                  "McCormick",
                  "https://mccormickml.com/2025/02/21/patterns-and-messages-part-6-vocabulary-based-analysis/")
SEED_004 = Source("004_dea726988dbf7d24.txt", "nostalgebraist, interpreting GPT: the logit lens (2020)",
                  "logit lens post",
                  "https://www.lesswrong.com/posts/AcKRB8wDpdaN6v6ru/interpreting-gpt-the-logit-lens")


@dataclass(frozen=True)
class Claim:
    """One published statement and how this build checks it.

    id: dotted `section.name`; the section's page shows it (`{{ claim ID }}`).
    statement: the claim in our own words.
    about: the model it was made about: GPT2_SMALL, or ARCHITECTURE for identities that hold for any
        GPT-2-architecture model.
    keys: figure data keys that compute it, `figure-id:dotted.key`.
    compute: values of `keys` → the compared quantity (default: the single key's value).
    published: the published value (a number), or for a predicate claim what the source found, in words.
    tolerance: absolute tolerance around a numeric `published`.
    predicate: computed → bool, for a qualitative claim; `criterion` says in words what it tests.
    fmt: format spec for published and computed numbers (e.g. ",", ".0%", ".1e").
    conventions: what moves the number (dataset, normalisation, weight processing): shown with it.
    checked: which independent implementation the computed number was compared with, and where (e.g. the
        TransformerLens test that recomputes it); empty when only internal consistency backs it.
    not_comparable: why this build's number cannot be compared with the published one even on the source's
        model (its setup is lost from the source's text, say); the claim is then shown, never judged.
    short: the claim in a few words, for a page's "the post vs this model" table (default: the statement).
    """

    id: str
    source: Source
    statement: str
    about: str
    keys: tuple[str, ...]
    published: Any
    tolerance: float | None = None
    predicate: Callable[[Any], bool] | None = field(default=None, compare=False)
    criterion: str = ""
    compute: Callable[..., Any] | None = field(default=None, compare=False)
    fmt: str = ""
    conventions: str = ""
    checked: str = ""
    not_comparable: str = ""
    short: str = ""

    @property
    def section(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def figures(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(k.split(":", 1)[0] for k in self.keys))

    def test(self) -> str:
        """What 'reproduced' means for this claim, in words (shown in the badge's working)."""
        if self.predicate is not None:
            return self.criterion
        if not self.tolerance:
            return "Reproduced when equal"
        return f"Reproduced within ± {show(self.tolerance, self.fmt)}"


def _pair(a, b) -> list:
    return [a, b]


def show(value: Any, fmt: str = "") -> str:
    """A published or computed value as text (numbers formatted with `fmt`, lists joined)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(show(v, fmt) for v in value)
    if isinstance(value, (int, float)) and fmt:
        return format(value, fmt)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
