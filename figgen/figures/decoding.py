"""Decoding: the real next-token distribution under temperature, top-k and top-p.

Both figures use the decoding prompt: of the fixed open-ended CANDIDATES, the one after which the
model is least sure of its next token (highest entropy at T = 1; `analysis.decoding.most_uncertain`).
The site prompt is a successor task the model can be almost certain about, which leaves nothing to
decode.

The interactive chart recomputes the distribution in the browser with Vega-Lite transforms over
every logit of the vocabulary (shipped compactly, see `packed_logits`);
`figgen.analysis.decoding.sampling_distribution` is the reference it follows and is tested against.
"""

from __future__ import annotations

import json

import altair as alt
import numpy as np
from matplotlib.figure import Figure as MplFigure

from ..analysis.decoding import entropy, most_uncertain, nucleus_size, sampling_distribution, settings
from . import style
from .axes import style_axes
from matplotlib.ticker import FuncFormatter

from .labels import power_of_ten, rounded
from .registry import Figure, figure

# Open-ended prompts that stop where many words fit, in the domain of both GPT-2 and mini (mini's
# corpus: short sentences about people, animals, places, days and numbers; see figgen/mini/corpus.py).
CANDIDATES = (
    "The old farmer",
    "On Monday, the teacher",
    "The quiet child saw the",
    "In the morning, the",
    "We named the boat",
    "She opened the window and saw a",
    "The story was about a",
    "The happy student found the",
    "After lunch, the",
    "I heard someone say",
    "My favourite word is",
)
N_SHOWN = 20  # bars drawn; the distribution is computed over the whole vocabulary
DECIMALS = 3  # logits are shipped to the browser rounded to this many decimals
GRID = [(1.0, None, 1.0), (0.5, None, 1.0), (2.0, None, 1.0), (1.0, 3, 1.0), (1.0, None, 0.9)]


def decoding_prompt(ctx):
    """(PromptChoice, logits (d_vocab,) float32 of the chosen prompt): the candidate with the most
    uncertain next token."""
    logits = ctx.next_token_logits(CANDIDATES)  # (n_candidates, d_vocab)
    choice = most_uncertain(CANDIDATES, logits)
    return choice, logits[choice.index]


def ranked(logits: np.ndarray) -> np.ndarray:
    """Token ids from likeliest to least likely (ties: lower id first), (d_vocab,)."""
    return np.lexsort((np.arange(len(logits)), -logits))


def packed_logits(logits: np.ndarray) -> dict:
    """Every logit, sorted, in a compact form the chart's transforms decode.

    Logits are rounded to DECIMALS places as integers m_r (r = rank, likeliest first); the row holds
    the largest, `top` = m_1, and the drops between neighbours, `drops` = "d_1 d_2 …" with
    d_1 = 0 and d_r = m_(r-1) − m_r ≥ 0, so logit_r = (top − (d_1 + … + d_r)) / 10^DECIMALS. The
    drops are mostly one or two digits: a few bytes per token even for GPT-2's 50,257."""
    scale = 10 ** DECIMALS
    m = np.round(np.asarray(logits, np.float64)[ranked(logits)] * scale).astype(np.int64)  # (d_vocab,)
    drops = np.concatenate([[0], m[:-1] - m[1:]])
    assert (drops >= 0).all()
    return {"top": int(m[0]), "drops": " ".join(map(str, drops.tolist()))}


def unpacked_logits(row: dict) -> np.ndarray:
    """The sorted, rounded logits a `packed_logits` row carries (what the browser computes with)."""
    drops = np.array(row["drops"].split(), np.int64)
    return (row["top"] - np.cumsum(drops)) / 10 ** DECIMALS


def interactive_chart(logits: np.ndarray, tokens: list[str], d_vocab: int) -> alt.Chart:
    """The interactive chart for one next-token distribution.

    logits: (d_vocab,) the model's logits; tokens: display strings of the N_SHOWN likeliest tokens.

    The transforms, per slider move, over all d_vocab tokens (r = rank, 1 = likeliest):
    logit_r as in `packed_logits`; e_r = exp((logit_r − logit_1) / T); top-k keeps r ≤ k;
    p_k = e / Σ_(r≤k) e; top-p keeps the tokens whose likelier tokens' p_k sum to less than p (so
    the one that crosses p is kept, and the first always); probability = e / Σ_kept e, 0 if cut.
    `sampling_distribution(logit, T, k, p)` computes the same on the sorted logits."""
    n = len(tokens)
    T = alt.param(name="temperature", value=1.0,
                  bind=alt.binding_range(min=0.1, max=3, step=0.05, name="temperature T "))
    k = alt.param(name="top_k", value=d_vocab,
                  bind=alt.binding_range(min=1, max=d_vocab, step=1, name=f"top-k (1 to d_vocab = {d_vocab:,}) "))
    p = alt.param(name="top_p", value=1.0, bind=alt.binding_range(min=0.05, max=1, step=0.05, name="top-p "))
    scale = 10 ** DECIMALS
    row = {**packed_logits(logits), "token": tokens}
    labels = json.dumps(tokens, ensure_ascii=False)  # axis labels: the token of each shown rank
    d = alt.datum
    base = (
        alt.Chart(alt.Data(values=[row]))
        .transform_calculate(drop="split(datum.drops, ' ')")
        .transform_flatten(["drop", "token"])
        .transform_calculate(drop_n="toNumber(datum.drop)")
        # Once, at load: rank r = position in the shipped order (flatten keeps the array order), and
        # the summed drops down to r.
        .transform_window(rank="row_number()", gap="sum(drop_n)", frame=[None, 0])
        .transform_calculate(logit=f"(datum.top - datum.gap) / {scale}")
        # Per slider move, over the whole vocabulary:
        .transform_calculate(e=f"exp(-datum.gap / {scale} / temperature)")  # e^((logit − logit_1)/T)
        .transform_calculate(e_k="datum.rank <= top_k ? datum.e : 0")
        .transform_joinaggregate(Z="sum(e)", Z_k="sum(e_k)")
        .transform_calculate(p_k=d.e_k / d.Z_k)  # top-k: the k likeliest, renormalised
        .transform_window(cum="sum(p_k)", sort=[alt.SortField("rank")], frame=[None, 0])
        .transform_calculate(kept="datum.rank <= top_k && (top_p >= 1 || datum.cum - datum.p_k < top_p "
                                  "|| datum.rank == 1)")
        .transform_calculate(e_p="datum.kept ? datum.e : 0", kept_n="datum.kept ? 1 : 0")
        .transform_joinaggregate(Z_p="sum(e_p)", n_kept="sum(kept_n)")
        # Only the bars drawn from here on.
        .transform_filter(d.rank <= n)
        .transform_calculate(probability=d.e_p / d.Z_p,  # top-p: the smallest set reaching p, renormalised
                             before_cut=d.e / d.Z)  # softmax(logits / T), no cut
        .transform_calculate(status="datum.kept ? 'can be sampled: ' + format(datum.n_kept, ',') + "
                                    "(datum.n_kept == 1 ? ' token' : ' tokens') : 'cut: ' + "
                                    f"format({d_vocab} - datum.n_kept, ',') + "
                                    f"({d_vocab} - datum.n_kept == 1 ? ' token' : ' tokens')")
    )
    x = alt.X("rank:O", title=f"the {n} likeliest tokens of {d_vocab:,}",
              axis=alt.Axis(labelAngle=-50, labelExpr=f"{labels}[datum.value - 1]", labelFont="monospace"))
    tooltip = ["rank:O", "token:N", alt.Tooltip("logit:Q", format=".3f"),
               alt.Tooltip("before_cut:Q", format=".4f", title="probability at T, before the cuts"),
               alt.Tooltip("probability:Q", format=".4f", title="probability of being sampled"),
               alt.Tooltip("kept:N", title="can be sampled")]
    chart = alt.layer(
        # Grey, behind: the probability at temperature T before top-k and top-p; a cut token shows only this.
        base.mark_bar(color=style.RESIDUAL).encode(x=x, y=alt.Y("before_cut:Q", title="probability"),
                                                   tooltip=tooltip),
        # Pink, in front: what can be sampled, renormalised after the cuts (never shorter than the grey).
        base.mark_bar().encode(
            x=x, y=alt.Y("probability:Q", title="probability"),
            color=alt.Color("status:N", title=None, legend=alt.Legend(orient="top"),
                            scale=alt.Scale(range=[style.OPERATION, style.RESIDUAL])),
            tooltip=tooltip),
    )
    return chart.add_params(T, k, p).properties(width=24 * n, height=240)


@figure("decoding.interactive", section="decoding", title="Temperature, top-k and top-p, live",
        caption="The next-token distribution after the decoding prompt, recomputed as you move the sliders.",
        prompts=CANDIDATES)
def interactive(ctx) -> Figure:
    choice, logits = ctx.analysis(decoding_prompt)
    d_vocab = len(logits)
    ids = ranked(logits)[:N_SHOWN]
    tokens = [ctx.token_str(i) for i in ids]
    n = len(tokens)
    row = packed_logits(logits)
    shipped = unpacked_logits(row)
    probs = sampling_distribution(logits)
    return Figure(
        data={"prompt": choice.prompt, "n_shipped": d_vocab, "n_shown": n, "decimals": DECIMALS,
              "shown_mass": round(float(np.sort(probs)[::-1][:n].sum()), 4),
              "max_shipped_error": float(f"{np.abs(shipped - np.sort(logits.astype(np.float64))[::-1]).max():.3g}"),
              "packed_chars": len(row["drops"])},
        alt=f"Bar chart of the probabilities of the {n} likeliest next tokens after {choice.prompt!r}, with sliders "
            f"for temperature, top-k and top-p; at the defaults (T = 1, no cut) the first is {tokens[0]!r} "
            f"with {probs.max():.1%}",
        caption="Move the sliders to reshape the next-token distribution of the decoding prompt. Grey bars: the "
                "probability at temperature T before the cuts; pink bars, in front: the probability of being "
                "sampled after top-k and top-p (renormalised), so a token that is cut shows only grey. Your browser "
                f"computes the distribution over all {d_vocab:,} tokens of the vocabulary and draws the {n} "
                f"likeliest, which hold {float(np.sort(probs)[::-1][:n].sum()):.1%} of the probability at T = 1; the "
                "legend counts the tokens that can be sampled.",
        chart=interactive_chart(logits, tokens, d_vocab), prompts=[choice.prompt],
    )


# How the five settings are drawn: a colour per theme and a line style, so they never rely on colour alone.
_LOOK = [  # (light, dark, linestyle, name)
    (style.OPERATION, "#f06aa8", "-", "T = 1, no cut"),
    ("#2166ac", "#6cb0f0", "--", "T = 0.5"),
    ("#b35806", "#fdb863", ":", "T = 2"),
    ("#1b7837", "#5cc879", "-.", "top-k, k = 3"),
    ("#6a51a3", "#a394e0", (0, (5, 1, 1, 1, 1, 1)), "top-p, p = 0.9"),
]


def _settings(ctx):
    return settings(ctx.analysis(decoding_prompt)[1], GRID)


@figure("decoding.settings", section="decoding", title="Five ways to pick the next token",
        caption="The same logits under five decoding settings.", prompts=CANDIDATES)
def five_settings(ctx) -> Figure:
    choice, logits = ctx.analysis(decoding_prompt)
    sets = ctx.analysis(_settings)
    order = ranked(logits)
    n_bars = 8
    labels = [ctx.token_str(i) for i in order[:n_bars]]
    fig = MplFigure(figsize=(style.COLUMN_IN - 0.15, 5.6), layout="constrained")
    cum_ax, bar_ax = fig.subplots(2, 1, height_ratios=[1, 1])
    # The curves at ~500 log-spaced ranks (every rank up to ~40) and at each setting's last token and
    # the next: exact where they jump to 1, and small SVGs even for 50,257 tokens.
    marks = np.unique(np.concatenate([np.round(np.logspace(0, np.log10(len(logits)), 500)),
                                      [s.support for s in sets], [s.support + 1 for s in sets]]))
    ranks = marks[(marks >= 1) & (marks <= len(logits))].astype(int)  # 1-based
    width = 0.8 / len(sets)
    for i, (s, (light, dark, ls, name)) in enumerate(zip(sets, _LOOK)):
        colour = light if ctx.theme == "light" else dark
        cum = np.round(np.cumsum(s.probs[order])[ranks - 1], 4)
        label = f"{name}: {s.support:,} token{'s' if s.support != 1 else ''} possible"
        cum_ax.step(ranks, cum, where="post", color=colour, linestyle=ls, linewidth=1.6, label=label)
        probs = np.round(s.probs[order[:n_bars]], 4)
        bar_ax.bar(np.arange(n_bars) - 0.4 + (i + 0.5) * width, probs, width, color=colour)
    cum_ax.set_xscale("log")
    cum_ax.xaxis.set_major_formatter(FuncFormatter(power_of_ten))
    cum_ax.set_xlim(1, len(logits))
    cum_ax.set_ylim(0, 1.02)
    cum_ax.set_xlabel("rank r of the token (log scale)")
    cum_ax.set_ylabel("probability of\nthe r likeliest")
    cum_ax.legend(loc="lower right", handlelength=3)
    style_axes(cum_ax, ctx.theme)
    bar_ax.set_xticks(range(n_bars), labels, fontfamily="monospace", rotation=30, ha="right")
    bar_ax.set_ylabel("probability")
    bar_ax.set_title(f"the {n_bars} likeliest tokens: one bar per setting, in the legend's order (no bar: cut)", loc="left")
    style_axes(bar_ax, ctx.theme)
    base = sets[0].probs
    greedy = int(order[0])
    nucleus = nucleus_size(logits, 0.9)
    return Figure(
        data={"prompt": choice.prompt, "greedy": ctx.token_str(greedy), "greedy_prob": rounded(base[greedy]),
              "entropy": round(entropy(base), 4), "nucleus_090": nucleus,
              "nucleus_090_tokens": f"{nucleus:,} token{'s' if nucleus != 1 else ''}",
              "max_entropy": round(float(np.log(len(logits))), 4), "n_candidates": len(CANDIDATES),
              "candidates": [[p, round(float(h), 4)] for p, h in zip(choice.prompts, choice.entropies)],
              "runner_up": _runner_up(choice),
              "settings": [{"label": s.label, "support": s.support, "top_prob": rounded(s.probs[greedy]),
                            "entropy": round(entropy(s.probs), 4)} for s in sets]},
        alt=f"Two charts for {choice.prompt!r}. Above, how much probability the r likeliest tokens hold under "
            f"five settings ({', '.join(name for *_, name in _LOOK)}); below, the probabilities of the "
            f"{n_bars} likeliest tokens under each; the likeliest, {ctx.token_str(greedy)!r}, gets "
            + ", ".join(f"{s.probs[greedy]:.1%}" for s in sets),
        caption=f"Five decoding settings on the same logits, after “{choice.prompt}”: they leave from "
                f"{min(s.support for s in sets):,} to {max(s.support for s in sets):,} tokens to draw from. Above: "
                "the probability held by the r likeliest tokens, against r; a curve reaches 1 where no more tokens "
                f"can be sampled. Below: the probability of each of the {n_bars} likeliest tokens, one bar per "
                "setting (a missing bar: the setting cuts that token). The prompt was chosen from these candidates.",
        mpl=fig,  # the prompts printed under it: every candidate (the declared ones)
    )


def _runner_up(choice) -> dict:
    """The second most uncertain candidate: how clear the choice was, and a clause saying so ("text") that holds at
    the two decimals the page quotes: a runner-up equal to two decimals is called "as uncertain"."""
    order = np.argsort(-choice.entropies, kind="stable")
    j = int(order[1]) if len(order) > 1 else int(order[0])
    best, second = float(choice.entropies[order[0]]), float(choice.entropies[j])
    if f"{best:.2f}" == f"{second:.2f}":
        text = f"the runner-up, “{choice.prompts[j]}”, is as uncertain to two decimals"
    else:
        text = f"the runner-up, “{choice.prompts[j]}”, has {second:.2f}"
    return {"prompt": choice.prompts[j], "entropy": round(second, 4), "gap": round(best - second, 6), "text": text}
