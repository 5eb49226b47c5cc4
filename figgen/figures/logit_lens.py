"""The logit lens (seed 004): every point of the residual stream read as a next-token guess.

Figures on the post's own kinds of example, each on its own prompts (printed on the page):
- a passage of ordinary prose: the top-1 grid, the ranks of the final answer, KL(final ‖ point) and
  KL(input ‖ point), the rank of the input token, and an interactive grid;
- the copying example ("… when people say plasma"): the lens after each attention and each MLP
  sublayer, and the rank of " plasma" through the depth;
- a sentence repeated verbatim: from which depth the lens predicts the repetition.
The analysis is figgen.analysis.lens; these functions only choose prompts and draw.
"""

from __future__ import annotations

import altair as alt
import numpy as np
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure as MplFigure
from matplotlib.ticker import FuncFormatter, NullFormatter

from ..analysis import lens as L
from . import style
from .grid import position_axes, text_grid
from .labels import rounded
from .registry import Figure, figure

PLASMA = "Sometimes, when people say plasma, they mean a state of matter. Other times, when people say plasma"
PLASMA_SHORT = "When people say plasma, they mean matter. When people say plasma"  # for contexts under ~30 tokens
# The seed's prose: a segment of the GPT-3 abstract. A model that gets too little of it right (mini
# never saw such text) is shown on the first candidate from its own domain that it predicts partly right.
SEED_PROSE = ("Specifically, we train GPT-3, an autoregressive language model with 175 billion parameters, "
              "10x more than any previous non-sparse language model, and test its performance in the "
              "few-shot setting.")
OTHER_PROSE = (
    "On Monday, the old teacher visited the quiet garden near the lake. The child read the famous book.",
    "In March, the farmer built the small house on the hill. The happy dog followed the student.",
    "The baseball player hit a home run, and the team won the game.",
)
# Extreme repetition: the seed does not print its text. Two of ours, each four copies: a run of arbitrary
# words (nothing to predict but the copy) and an ordinary sentence (grammar competes with the copy).
# Four copies, fewer where the model's context cannot hold four.
REPEATS = {"arbitrary words": "apple river copper silver thunder pencil.",
           "a sentence": "The quiet teacher painted the old house near the lake."}
SHORT_REPEATS = {"arbitrary words": "apple river.", "a sentence": "The old house."}  # tiny test contexts only
COPIES = (4, 3, 2)
REPEATED = {(kind, n): " ".join([text] * n) for kind, text in REPEATS.items() for n in COPIES}
REPEATED |= {(kind, 0): " ".join([text] * 2) for kind, text in SHORT_REPEATS.items()}  # key 0: the short text
PLASMAS = (PLASMA, PLASMA_SHORT)
PROMPTS = (SEED_PROSE, *OTHER_PROSE, *PLASMAS, *REPEATED.values())

N_POS = 10  # positions drawn per grid (the seed drew stretches of 10)
SEED_PROSE_MIN = 0.25  # the seed's passage is used when the model gets at least this share right
KL_CAP = 30.0  # nats: the seed capped its KL colour scale at 30
FINAL_RANK_CAP = 100  # the seed's rank colours bottom out at 100 (final top-1) and 1,000 (input token)
INPUT_RANK_CAP = 1000
REPEAT_THRESHOLD = 0.5  # "the lens predicts the repetition": right on at least half the repeated positions
RANK_BOUND = 10_000  # the addendum: input tokens' ranks "in the 100s or 1000s, but not the 10000s"
# "The input is discarded at once": after the first layer the input token's median rank is beyond the top ten,
# and it is the lens's top guess at no more than 5% of the readings after the input row (the claim's bound).
GONE_RANK = 10
GONE_SHARE = 0.05
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
            "eleventh", "twelfth")


def nth(n: int) -> str:
    """1 → 'first' … 12 → 'twelfth', then '13th', '21st' …"""
    if 1 <= n <= len(ORDINALS):
        return ORDINALS[n - 1]
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def point_words(label: str, n_layers: int) -> str:
    """A reading's place in words: 'at the input', "after layer 1's attention, in the second of its 4 layers"."""
    if label == "input":
        return "at the input"
    kind, layer = label.rsplit(" ", 1)
    l = int(layer)
    what = {"after attn": f"after layer {l}'s attention", "after MLP": f"after layer {l}'s MLP"}.get(kind,
                                                                                                f"after layer {l}")
    return f"{what}, in the {nth(l + 1)} of its {n_layers} layers"


def share_words(share: float) -> str:
    """A share of readings or positions for running prose: '0%' only when it is exactly none."""
    return "none" if share == 0 else "fewer than 1%" if share < 0.01 else f"{share:.0%}"


def times(ratio: float) -> str:
    return f"{ratio:.0f}" if ratio >= 10 else f"{ratio:.1f}"


# --- what the figures share (memoised per build) -----------------------------------------------------


def _accuracy(ctx, prompt: str) -> float:
    t = ctx.trace_of(prompt)
    return float((t["logits"][:-1].argmax(-1) == t.tokens[1:]).mean())


def _fits(ctx, prompt: str) -> bool:
    n = len(ctx.tokenizer(prompt, add_special_tokens=False)["input_ids"]) + 1  # + BOS
    return n <= ctx.dims.n_ctx


def prose(ctx) -> dict:
    """The prose example: the seed's passage if the model gets ≥ SEED_PROSE_MIN of it right, else the
    first of OTHER_PROSE it gets between 25% and 90% right (or the one closest to half)."""
    tried = {}
    others = [p for p in OTHER_PROSE if _fits(ctx, p)]
    if not others and not _fits(ctx, SEED_PROSE):  # a tiny context: the site's own prompt
        return {"prompt": ctx.prompt, "accuracy": _accuracy(ctx, ctx.prompt), "seed": False, "tried": tried}
    if _fits(ctx, SEED_PROSE):
        tried[SEED_PROSE] = _accuracy(ctx, SEED_PROSE)
        if tried[SEED_PROSE] >= SEED_PROSE_MIN:
            return {"prompt": SEED_PROSE, "accuracy": tried[SEED_PROSE], "seed": True, "tried": tried}
    for p in others:
        tried[p] = _accuracy(ctx, p)
        if 0.25 <= tried[p] <= 0.9:
            return {"prompt": p, "accuracy": tried[p], "seed": False, "tried": tried}
    best = min(others, key=lambda p: abs(tried[p] - 0.5))
    return {"prompt": best, "accuracy": tried[best], "seed": False, "tried": tried}


def lens_of(ctx, prompt: str, sublayers: bool = False, track: tuple[int, ...] = ()) -> L.Lens:
    t = ctx.trace_of(prompt)
    points = L.stream_points(t, ctx.dims.n_layers, sublayers=sublayers)
    return L.lens(points, t.tokens, ctx.weights, ctx.model.cfg.layer_norm_epsilon, track=track)


def _shown(n_tokens: int) -> np.ndarray:
    """The last N_POS positions whose next token is known (position 0, the BOS, only if nothing else)."""
    last = n_tokens - 1  # the final position has no true next token in the prompt
    return np.arange(max(1 if last > 1 else 0, last - N_POS), last)


def _labels(ctx, lens: L.Lens) -> list[str]:
    n = ctx.dims.n_layers
    return [s.replace("after layer", "layer") + (" = output" if i == len(lens.labels) - 1 else "")
            for i, s in enumerate(lens.labels)] if len(lens.labels) == n + 1 else lens.labels


def _grid_figure(ctx, lens: L.Lens, prompt: str, values, texts, *, cmap, norm, outline=None,
                 bar_label: str, extra_rows: float = 0.0):
    t = ctx.trace_of(prompt)
    cols = _shown(len(t.tokens))
    rows = len(lens.labels)
    fig = MplFigure(figsize=(style.COLUMN_IN, 0.26 * rows + 1.9 + extra_rows), layout="constrained")
    ax = fig.add_subplot()
    image = text_grid(ax, values[:, cols], [[texts[r][c] for c in cols] for r in range(rows)], cmap=cmap,
                      norm=norm, theme=ctx.theme, outline=None if outline is None else outline[:, cols])
    ax.set_yticks(range(rows), _labels(ctx, lens))
    final = lens.final_top[cols]
    position_axes(ax, ctx.token_strs(t.tokens[cols]), ctx.token_strs(t.tokens[cols + 1]),
                  correct=final == t.tokens[cols + 1])
    bar = fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01)
    bar.outline.set_visible(False)
    bar.set_label(bar_label)
    if isinstance(norm, LogNorm):  # plain numbers: mathtext is off, so no 10^k labels
        ticks = [v for v in (1, 10, 100, 1000) if v <= norm.vmax]
        bar.set_ticks(ticks, labels=[f"{v:,}" for v in ticks])
        bar.ax.minorticks_off()
    return fig, cols


def _rank_grid(ctx, lz: L.Lens, prompt: str, ranks_: np.ndarray, cap: int):
    """A grid of ranks (rank 1 the strongest colour, `cap` and beyond the palest, log scale)."""
    texts = [[f"{r:,}" if r < 10_000 else f"{r / 1000:.0f}k" for r in row] for row in ranks_]
    return _grid_figure(ctx, lz, prompt, np.minimum(ranks_, cap).astype(float), texts,
                        cmap=style.cmap("magnitude", ctx.theme).reversed(), norm=LogNorm(1, cap),
                        bar_label=f"rank (log scale, ≥ {cap:,} same colour)")


def _texts(ctx, ids: np.ndarray) -> list[list[str]]:
    return [[ctx.token_str(i) for i in row] for row in ids]


def _shown_note(cols: np.ndarray, n_tokens: int) -> str:
    return f"positions {cols[0]}–{cols[-1]} of {n_tokens}"


# --- the prose example ---------------------------------------------------------------------------------


def settling(final_rank: np.ndarray, layers: np.ndarray, n_layers: int) -> dict:
    """Where the model's final answer settles in the lens. final_rank: (n_points, positions) after the BOS;
    layers: (n_points,) the layer each point ends (−1: the input). The answer settles at a position from the
    first point from which it stays the top guess; `half` is the earliest layer (−1: the input) by which half of
    the positions have settled, `k` the number of layers that takes (0 … n_layers)."""
    settle = [L.first_point_at(final_rank[:, p]) for p in range(final_rank.shape[1])]
    at = np.array([layers[i] if i is not None else n_layers for i in settle])  # never: beyond the last layer
    half = next((l for l in range(-1, n_layers) if (at <= l).mean() >= 0.5), n_layers - 1)
    k = half + 1
    share = k / n_layers
    when = ("before any layer runs" if k == 0 else "almost at once" if share <= 0.25 else
            "by the middle of its depth" if share <= 0.5 else "in the upper half of its depth" if share <= 0.75 else
            "only in its last layers")
    where = ("the input embeddings themselves already decode as it" if k == 0 else
             f"it is the top guess, for good, after {k} of the {n_layers} layers")
    return {"half_layer": int(half), "layers_needed": int(k), "depth_share": round(share, 4), "when": when,
            "text": f"the lens finds the model's final answer in the residual stream {when}: at half of the positions "
                    f"of a passage of ordinary text, {where}"}


def discarding(input_rank: np.ndarray, labels: list[str], n_layers: int) -> dict:
    """Whether the input is discarded at once. input_rank: (n_points, positions) after the BOS, the rank of each
    position's own token at each point (row 0: the input). At once: after the first layer its median rank is
    beyond GONE_RANK and it is the top guess at no more than GONE_SHARE of the readings after the input row."""
    med = np.median(input_rank, axis=1)
    top1 = float((input_rank[1:] == 1).mean())
    at_once = bool(med[1] > GONE_RANK and top1 <= GONE_SHARE)
    out = next((r for r in range(1, len(med)) if (med[r:] > GONE_RANK).all()), None)
    later = ("is never the lens's top guess after that" if top1 == 0 else
             f"is the lens's top guess at {share_words(top1)} of the later readings")
    if at_once:
        text = (f"The input is discarded at once: the token each position reads falls from a median rank of "
                f"{med[0]:,.0f} at the input to {med[1]:,.0f} after the first layer, and {later}")
    else:
        text = (f"The input lingers: the token each position reads still has a median rank of {med[1]:,.0f} after the "
                "first layer, " + (f"leaves the top ten only {point_words(labels[out], n_layers)}" if out is not None
                                   else "stays in the top ten up to the output") + f", and {later}")
    return {"at_once": at_once, "median_after_first": float(med[1]), "top1_after": round(top1, 4),
            "gone_rank": GONE_RANK, "gone_share": GONE_SHARE, "text": text}


@figure("logit-lens.top1", section="logit-lens", title="Each layer's top guess",
        caption="The lens's top guess at each depth and position.", prompts=PROMPTS)
def top1(ctx) -> Figure:
    chosen = ctx.analysis(prose)
    prompt = chosen["prompt"]
    lz = ctx.analysis(lens_of, prompt)
    t = ctx.trace_of(prompt)
    probs = lz.top_probs[..., 0]
    same = lz.top_ids[..., 0] == lz.final_top[None, :]
    fig, cols = _grid_figure(ctx, lz, prompt, probs, _texts(ctx, lz.top_ids[..., 0]),
                             cmap=style.cmap("magnitude", ctx.theme), norm=Normalize(0, 1), outline=same,
                             bar_label="probability of the top guess")
    n = len(t.tokens)
    n_layers = ctx.dims.n_layers
    correct = lz.final_top[:-1] == t.tokens[1:]
    # From which layer on does the lens's guess stay the model's final one, position by position?
    settles = [L.first_point_at(lz.final_rank[:, p]) for p in range(1, n)]
    settle_layers = [int(lz.layers[i]) for i in settles if i is not None]
    settled = settling(lz.final_rank[:, 1:], lz.layers, n_layers)
    discarded = discarding(lz.input_rank[:, 1:], lz.labels, n_layers)
    if chosen["seed"]:
        why = "the post's own passage, from the abstract of the GPT-3 paper"
    elif SEED_PROSE not in chosen["tried"]:
        why = "a passage of our own, since the post's, from the GPT-3 abstract, does not fit this model's context"
    else:
        why = (f"a passage of our own, since this model gets only {chosen['tried'][SEED_PROSE]:.0%} of the post's, "
               "from the GPT-3 abstract, right")
    # The caption's point: the input row reads back the input token; from which row on most shown cells
    # (at least half, in every row below) already hold the model's final answer.
    own = float((lz.top_ids[0, cols, 0] == t.tokens[cols]).mean())
    outlined = same[:, cols].mean(1)
    row = next((r for r in range(len(outlined)) if (outlined[r:] >= 0.5).all()), len(outlined) - 1)
    own_words = ("reads back each position's own token" if own == 1 else
                 f"reads back the position's own token at {own:.0%} of the positions shown" if own > 0 else
                 "never reads back the position's own token")
    return Figure(
        data={"prompt": prompt, "seed_passage": chosen["seed"], "why": why, "accuracy": round(chosen["accuracy"], 4),
              "n_correct": int(correct[1:].sum()), "n_predicted": int(n - 2), "n_tokens": n,
              "shown_first": int(cols[0]), "shown_last": int(cols[-1]), "n_shown": len(cols),
              "median_settle_layer": float(np.median(settle_layers)) if settle_layers else None,
              "settling": settled, "discarding": discarded, "prose_min": SEED_PROSE_MIN,
              "input_reads_itself": round(own, 4), "outlined_from": lz.labels[row],
              "accuracy_tried": {k: round(v, 4) for k, v in chosen["tried"].items()}},
        alt=f"Grid of the lens's top guess for {len(lz.labels)} depths × {len(cols)} positions of the prompt; "
            f"the model's final guess is right at {int(correct[1:].sum())} of {n - 2} positions",
        caption=f"The input row {own_words}; "
                + ("in every row, " if row == 0 else f"from {_labels(ctx, lz)[row]} down, ")
                + "at least half of the cells already hold the model's final answer (outlined). Above each column: "
                "the true next token, * where the model gets it right.",
        mpl=fig, prompts=[prompt],
    )


@figure("logit-lens.ranks", section="logit-lens", title="Where the final answer ranks at each depth",
        caption="How the model's final answer climbs the lens's ranking, depth by depth.", prompts=PROMPTS)
def ranks(ctx) -> Figure:
    prompt = ctx.analysis(prose)["prompt"]
    lz = ctx.analysis(lens_of, prompt)
    fig, cols = _rank_grid(ctx, lz, prompt, lz.final_rank, FINAL_RANK_CAP)
    real = slice(1, None)  # every position but the BOS
    median = np.median(lz.final_rank[:, real], axis=1)
    middle = len(lz.labels) // 2  # the row of layer ⌊L/2⌋ − 1 … the middle of the depth
    top = next(r for r in range(len(median)) if (median[r:] == 1).all())  # the output row always has median 1
    where = "already at the input" if top == 0 else point_words(lz.labels[top], ctx.dims.n_layers).split(",")[0]
    return Figure(
        data={"median_final_rank": rounded(median), "middle_row": middle, "middle_label": lz.labels[middle],
              "median_middle": float(median[middle]), "top_row": top, "top_label": lz.labels[top],
              "n_rows": len(lz.labels), "top10_share_middle": round(float((lz.final_rank[middle, real] <= 10).mean()), 4)},
        alt=f"Grid of the rank of the final answer at each depth; the median rank is {median[0]:.0f} at the input, "
            f"{median[middle]:.0f} at {lz.labels[middle]} and 1 at the output",
        caption=("The model's final answer is already the lens's top guess at the input, at the median position, and "
                 "stays there." if top == 0 else
                 f"The model's final answer climbs from a median rank of {median[0]:,.0f} at the input to rank 1 "
                 f"{where}, and stays there."),
        mpl=fig, prompts=[prompt],
    )


@figure("logit-lens.kl", section="logit-lens", title="How far each depth is from the output, and from the input",
        caption="How far each reading is from the model's output, and from the input's own reading.",
        prompts=PROMPTS)
def kl(ctx) -> Figure:
    prompt = ctx.analysis(prose)["prompt"]
    lz = ctx.analysis(lens_of, prompt)
    t = ctx.trace_of(prompt)
    cols = _shown(len(t.tokens))
    rows = len(lz.labels)
    cmap = style.cmap("magnitude", ctx.theme).reversed()  # strong colour = close (0 nats), as rank 1 in the ranks
    norm = Normalize(0, KL_CAP)
    fig = MplFigure(figsize=(style.COLUMN_IN, 2 * (0.26 * rows + 1.0) + 1.2), layout="constrained")
    axes = fig.subplots(2, 1)
    for ax, values, title in [(axes[0], lz.kl_final, "KL(final ‖ point): distance to the model's output"),
                              (axes[1], lz.kl_input, "KL(input ‖ point): distance to the input row")]:
        shown = np.minimum(values[:, cols], KL_CAP)
        texts = [[f"{v:.1f}" for v in row] for row in values[:, cols]]
        image = text_grid(ax, shown, texts, cmap=cmap, norm=norm, theme=ctx.theme)
        ax.set_yticks(range(rows), _labels(ctx, lz))
        ax.set_title(title, loc="left")
        ax.set_xticks([])
    position_axes(axes[1], ctx.token_strs(t.tokens[cols]))
    bar = fig.colorbar(image, ax=list(axes), fraction=0.03, pad=0.01)
    bar.outline.set_visible(False)
    bar.set_label(f"nats (≥ {KL_CAP:g} same colour)")
    real = slice(1, None)
    kf, ki = lz.kl_final[:, real].mean(1), lz.kl_input[:, real].mean(1)
    first, later = float(kf[0] - kf[1]), float(max(np.diff(-kf)[1:], default=0.0))
    jump = (f"a drop {times(first / later)} times larger than any later layer's" if first > later > 0 else
            "the only drop along the depth" if first > 0 >= later else
            f"while a later layer's drop is as large or larger ({later:.1f} nats)")
    total = float(kf[0] - kf[-1])
    covered = first / total if total > 0 else 0.0
    rising = bool((np.diff(ki) > 0).all())
    in_max, fin_max = float(lz.kl_input[:, real].max()), float(lz.kl_final[:, real].max())
    top_text = (f"Top: the first layer covers {covered:.0%} of the distance to the output" if covered >= 0.5 else
                f"Top: the first layer covers only {covered:.0%} of the distance to the output; the rest comes "
                "layer by layer")
    bottom_text = ("bottom: the reading moves further from the input at every layer" if rising else
                   f"bottom: the distance from the input peaks {point_words(lz.labels[int(np.argmax(ki))], ctx.dims.n_layers)}")
    return Figure(
        data={"kl_final_mean": rounded(kf), "kl_input_mean": rounded(ki), "labels": lz.labels,
              "kl_final_max": round(float(lz.kl_final.max()), 4), "cap": KL_CAP,
              "first_step": round(first, 4), "largest_later_step": round(later, 4),
              "first_step_share": round(covered, 4), "input_rising": rising,
              "jump_text": (f"falls from {kf[0]:.1f} nats at the input row to {kf[1]:.1f} after the first layer, "
                            + jump),
              "input_jump": round(float(ki[1]), 4),
              "input_jump_ratio": round(float(ki[1] / (kf[0] - kf[1])), 4) if kf[0] > kf[1] else None,
              "kl_input_max": round(in_max, 4),
              "kl_final_max_real": round(fin_max, 4),
              "input_jump_text": (f"{ki[1]:.1f} nats after the first layer, "
                                  + (f"{ki[1] / (kf[0] - kf[1]):.0%} of the first layer's drop in the distance to the "
                                     "output" if kf[0] > kf[1] else
                                     "while the distance to the output does not drop at that step")),
              "cap_text": (f"its largest value anywhere in the passage is {in_max:.1f} nats, "
                           + ("under" if in_max < KL_CAP else "beyond")
                           + f" the {KL_CAP:g} nats at the top of the post's colour scale (the distance to the output "
                           f"reaches {fin_max:.1f})")},
        alt=f"Two grids of KL divergences at each depth; the mean KL to the output falls from {kf[0]:.1f} nats at the "
            f"input to {kf[1]:.1f} after layer 0, while the mean KL to the input rises to {ki[1]:.1f}",
        caption=f"{top_text}; {bottom_text}. Cells show each position's KL divergence in nats.",
        mpl=fig, prompts=[prompt],
    )


@figure("logit-lens.input-rank", section="logit-lens", title="Where the input token ranks at each depth",
        caption="The rank of each position's own input token in the lens, at each depth.", prompts=PROMPTS)
def input_rank(ctx) -> Figure:
    prompt = ctx.analysis(prose)["prompt"]
    lz = ctx.analysis(lens_of, prompt)
    fig, cols = _rank_grid(ctx, lz, prompt, lz.input_rank, INPUT_RANK_CAP)
    median = np.median(lz.input_rank[:, 1:], axis=1)
    after = lz.input_rank[1:, 1:]  # rows after the input row, positions after the BOS
    top1 = float((after == 1).mean())
    worst = after.max(0)  # (positions,) each input token's largest rank after the input row
    kept = float((worst < RANK_BOUND).mean())
    d_vocab = ctx.dims.d_vocab
    gone = discarding(lz.input_rank[:, 1:], lz.labels, ctx.dims.n_layers)
    n_kept = int((worst < RANK_BOUND).sum())
    verb = ("stays near the top of the lens" if not gone["at_once"] else
            "leaves the top of the lens after the first layer" if median[0] <= GONE_RANK else
            "is far down the lens from the first layer on")
    return Figure(
        data={"median_input_rank": rounded(median), "labels": lz.labels,
              "input_top1_after": round(top1, 4), "input_top1_after_text": share_words(top1),
              "n_cells_after": int(after.size),
              "worst_after": [int(w) for w in worst], "rank_bound": RANK_BOUND, "kept_share": round(kept, 4),
              "n_kept": n_kept, "n_positions": int(after.shape[1]),
              "kept_text": (f"{n_kept} of the {after.shape[1]} input tokens keep a rank under {RANK_BOUND:,} at every "
                            "depth after the input"
                            + ("" if d_vocab > RANK_BOUND else
                               f", but with only {d_vocab:,} tokens in this model's vocabulary every rank is, so the "
                               "count says nothing here"))},
        alt=f"Grid of the rank of the input token at each depth; median {median[0]:.0f} at the input row, "
            f"{median[1]:.0f} after layer 0, {median[-1]:.0f} at the output",
        caption=(f"The token each position reads {verb}: "
                 f"median rank {median[0]:,.0f} at the input, {median[1]:,.0f} after the first layer and "
                 f"{median[-1]:,.0f} at the output."),
        mpl=fig, prompts=[prompt],
    )


# --- the copying example --------------------------------------------------------------------------------


def _first_fitting(ctx, prompts) -> str:
    return next((p for p in prompts if _fits(ctx, p)), prompts[-1])


def _plasma(ctx) -> dict:
    """The plasma prompt's copy position (the second " say") and " plasma"'s rank at every sub-layer."""
    prompt = _first_fitting(ctx, PLASMAS)
    t = ctx.trace_of(prompt)
    target = int(t.tokens[-1])  # the prompt ends with the word to be copied
    lz = ctx.analysis(lens_of, prompt, True, (target,))
    at = len(t.tokens) - 2  # the position that predicts it
    ranks_ = lz.tracked[target][:, at]
    first = L.first_point_at(ranks_)
    own = next(p for p, tok in enumerate(t.tokens) if tok == target)  # the word's first occurrence
    layer_points = [0] + [i for i, s in enumerate(lz.labels) if s.startswith("after MLP")]  # input, after each layer
    return {"lens": lz, "at": at, "target": target, "ranks": ranks_, "first": first, "prompt": prompt,
            "own": own, "own_ranks": lz.input_rank[:, own], "layer_points": layer_points}


@figure("logit-lens.sublayers", section="logit-lens", title="After attention, after the MLP",
        caption="The lens after every attention sublayer and every MLP, on the copying example.",
        prompts=PLASMAS)
def sublayers(ctx) -> Figure:
    pl = ctx.analysis(_plasma)
    lz = pl["lens"]
    same = lz.top_ids[..., 0] == lz.final_top[None, :]
    fig, cols = _grid_figure(ctx, lz, pl["prompt"], lz.top_probs[..., 0], _texts(ctx, lz.top_ids[..., 0]),
                             cmap=style.cmap("magnitude", ctx.theme), norm=Normalize(0, 1), outline=same,
                             bar_label="probability of the top guess")
    # Which kind of sublayer changes the guess? Count the changes of top-1 each makes at the shown positions.
    top = lz.top_ids[:, cols, 0]
    changed = top[1:] != top[:-1]  # (n_points − 1, cols): point i+1 changed the guess of point i
    attn = int(changed[0::2].sum())  # odd points are "after attn l"
    mlp = int(changed[1::2].sum())
    changes = (f"MLPs change the top guess more often than attention sublayers, {mlp} times against {attn}" if mlp > attn
               else f"attention sublayers change the top guess more often than MLPs, {attn} times against {mlp}"
               if attn > mlp else f"attention sublayers and MLPs change the top guess equally often, {attn} times each")
    return Figure(
        data={"attn_changes": attn, "mlp_changes": mlp, "n_points": len(lz.labels), "n_shown": len(cols),
              "changes_text": changes},
        alt=f"Grid of the lens's top guess after each attention and each MLP sublayer for {len(cols)} positions; "
            f"attention sublayers change the guess {attn} times, MLPs {mlp} times",
        caption=f"Across the {len(cols)} positions shown, {changes}. Outlined: the model's final answer.",
        mpl=fig, prompts=[pl["prompt"]],
    )


@figure("logit-lens.plasma", section="logit-lens", title="When does “plasma” surface?",
        caption="The rank of the copied word at the position that must predict it, after every sublayer.",
        prompts=PLASMAS)
def plasma(ctx) -> Figure:
    pl = ctx.analysis(_plasma)
    lz, ranks_ = pl["lens"], pl["ranks"]
    word = ctx.token_str(pl["target"])
    fig = MplFigure(figsize=(style.COLUMN_IN, 3.0), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(ranks_))
    own = pl["own_ranks"]
    first_word = pl["own"] < pl["at"]  # the prompt has an earlier occurrence to read at its own position
    ax.semilogy(x, ranks_, "o-", color=style.OPERATION, markersize=5, label="at the second “say”: the word to copy")
    if first_word:
        ax.semilogy(x, own, "s--", color=style.MLP, markersize=4,
                    label=f"at the first {word} (position {pl['own']}): the word itself")
        ax.legend(loc="best")
    ax.invert_yaxis()  # rank 1 at the top
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))  # plain ranks, no mathtext
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(x, [s.replace("after ", "") for s in lz.labels], rotation=45, ha="right", rotation_mode="anchor")
    ax.set_ylabel(f"rank of {word}")
    ax.grid(axis="y", alpha=0.25)
    first = pl["first"]
    if first is not None:
        ax.axvline(first, color=style.muted(ctx.theme), linestyle="--", linewidth=1)
        ax.annotate("top guess from here on", (first, 1), xytext=(6, 4), textcoords="offset points",
                    color=style.muted(ctx.theme))
    n_layers = ctx.dims.n_layers
    first_layer = None if first is None else int(lz.layers[first])
    verdict = ("is the top guess from the input on" if first == 0 else
               f"becomes the top guess {point_words(lz.labels[first], n_layers)}, and stays there"
               if first is not None else f"never settles as the top guess (rank {int(ranks_[-1]):,} at the output)")
    at_layers = own[pl["layer_points"]]  # the first occurrence's own rank at the input and after each layer
    kept = {"position": pl["own"], "ranks": [int(r) for r in at_layers],
            "labels": [lz.labels[i] for i in pl["layer_points"]],
            "worst_after": int(at_layers[1:].max()) if first_word else None,
            "median_after": float(np.median(at_layers[1:])) if first_word else None,
            "text": (f"at its own position, the first {word} ranks {int(at_layers[0]):,} at the input and at worst "
                     f"{int(at_layers[1:].max()):,} after any layer (median {np.median(at_layers[1:]):,.0f})"
                     if first_word else f"the prompt has no earlier {word} to follow")}
    return Figure(
        data={"word": word, "ranks": [int(r) for r in ranks_], "labels": lz.labels, "at": pl["at"], "first_word": kept,
              "first_point": first, "first_label": None if first is None else lz.labels[first],
              "first_layer": first_layer, "n_layers": n_layers, "input_rank": int(ranks_[0]),
              "final_rank": int(ranks_[-1]),
              "verdict": verdict,
              "depth_share": None if first_layer is None else round((first_layer + 1) / n_layers, 4)},
        alt=f"Line chart of the rank of {word} at the copy position after each sublayer: {int(ranks_[0])} at the "
            f"input, {int(ranks_[-1])} at the output"
            + ("" if first is None else f"; top guess from {lz.labels[first]} on")
            + (f"; a second, dashed line: the first {word} at its own position, at worst rank "
               f"{kept['worst_after']:,} after the input" if first_word else ""),
        caption=(f"At the position that must copy it, {word} is the top guess from “{lz.labels[first].replace('after ', '')}” "
                 "on" if first is not None else f"At the position that must copy it, {word} never settles as the top "
                 "guess")
                + (f"; the first {word}, read at its own position (dashed), falls to rank {kept['worst_after']:,} at "
                   "worst." if first_word else "."),
        mpl=fig, prompts=[pl["prompt"]],
    )


# --- extreme repetition ---------------------------------------------------------------------------------


def _repeated(ctx, kind: str) -> str:
    return _first_fitting(ctx, [REPEATED[kind, n] for n in (*COPIES, 0)])


def _repeat_shares(ctx, kind: str) -> tuple[np.ndarray, int, int]:
    """(n_points,) share of the repeated positions (2nd copy on) where the lens's top guess is the true
    next token; the number of such positions; the tokens in one copy."""
    prompt = _repeated(ctx, kind)
    t = ctx.trace_of(prompt)
    lz = ctx.analysis(lens_of, prompt, True)
    text = SHORT_REPEATS[kind] if prompt == REPEATED[kind, 0] else REPEATS[kind]
    copy = len(ctx.tokenizer(text, add_special_tokens=False)["input_ids"])
    pos = np.arange(1 + copy, len(t.tokens) - 1)  # positions inside copies 2–4 whose next token is repeated
    return (lz.top_ids[:, pos, 0] == t.tokens[pos + 1][None, :]).mean(1), len(pos), copy


@figure("logit-lens.repetition", section="logit-lens", title="When is the repetition noticed?",
        caption="The share of repeated positions where the lens already predicts the repeated text, at each depth.",
        prompts=tuple(REPEATED.values()))
def repetition(ctx) -> Figure:
    fig = MplFigure(figsize=(style.COLUMN_IN, 3.2), layout="constrained")
    ax = fig.add_subplot()
    data, colours = {}, [style.OPERATION, style.MLP]
    for kind, colour in zip(REPEATS, colours):
        shares, n_pos, copy = _repeat_shares(ctx, kind)
        first = next((i for i, r in enumerate(shares) if r >= REPEAT_THRESHOLD), None)
        lz = ctx.analysis(lens_of, _repeated(ctx, kind), True)
        first_layer = None if first is None else int(lz.layers[first])
        # "Notices": the first reading that predicts at least REPEAT_THRESHOLD of the repeated positions.
        verdict = (f"notices the repetition {point_words(lz.labels[first], ctx.dims.n_layers)}" if first is not None
                   else f"never notices the repetition ({shares[-1]:.0%} of the repeated positions right at the output)")
        chart = (f"from “{lz.labels[first].replace('after ', '')}” on" if first is not None else None)
        copies = next((n for n in COPIES if REPEATED[kind, n] == _repeated(ctx, kind)), 2)
        data[kind] = {"shares": rounded(shares), "n_positions": n_pos, "copy_tokens": copy, "verdict": verdict,
                      "copies": copies, "chart_from": chart,
                      "first_label": None if first is None else lz.labels[first], "first_layer": first_layer,
                      "final_share": round(float(shares[-1]), 4),
                      "depth_share": None if first_layer is None else round((first_layer + 1) / ctx.dims.n_layers, 4)}
        ax.plot(np.arange(len(shares)), shares, "o-", color=colour, markersize=5, label=f"{kind} ({n_pos} positions)")
    labels = ctx.analysis(lens_of, _repeated(ctx, "arbitrary words"), True).labels
    ax.axhline(REPEAT_THRESHOLD, color=style.muted(ctx.theme), linestyle=":", linewidth=1)
    ax.set_ylim(0, 1.02)
    ax.set_xticks(range(len(labels)), [s.replace("after ", "") for s in labels], rotation=45, ha="right",
                  rotation_mode="anchor")
    ax.set_ylabel("share predicted right")
    ax.grid(axis="y", alpha=0.25)
    ax.legend(loc="upper left")
    words, sentence = data["arbitrary words"], data["a sentence"]
    return Figure(
        data={"threshold": REPEAT_THRESHOLD, "labels": labels, "n_layers": ctx.dims.n_layers,
              "words": words, "sentence": sentence, "depth_share": words["depth_share"]},
        alt=f"Line chart of the share of repeated positions the lens predicts right at each depth, for a run of "
            f"arbitrary words ({words['final_share']:.0%} at the output) and an ordinary sentence "
            f"({sentence['final_share']:.0%})",
        caption=("The lens predicts half or more of the repeated arbitrary words "
                 + (words["chart_from"] if words["chart_from"] else "at no depth")
                 + "; the repeated sentence "
                 + (f"gets there {sentence['chart_from']}" if sentence["chart_from"] else "never gets there")
                 + ". Dotted: half of the repeated positions."),
        mpl=fig, prompts=[_repeated(ctx, kind) for kind in REPEATS],
    )


# --- interactive -------------------------------------------------------------------------------------------

METRICS = ["probability of the top guess", "rank of the final answer", "KL to the output", "KL to the input"]


@figure("logit-lens.explorer", section="logit-lens", title="The lens, every position",
        caption="The passage's lens at every depth and position, with a choice of what the colour shows.",
        prompts=PROMPTS)
def explorer(ctx) -> Figure:
    prompt = ctx.analysis(prose)["prompt"]
    lz = ctx.analysis(lens_of, prompt)
    t = ctx.trace_of(prompt)
    labels = _labels(ctx, lz)
    rows = []
    for r, label in enumerate(labels):
        for p in range(1, len(t.tokens)):
            top5 = ", ".join(f"{ctx.token_str(i)} {q:.0%}" for i, q in zip(lz.top_ids[r, p], lz.top_probs[r, p]))
            rows.append({
                "depth": label, "d": r, "pos": p, "input": f"{p}: {ctx.token_str(t.tokens[p])}",
                "guess": ctx.token_str(lz.top_ids[r, p, 0]), "top5": top5,
                "prob": round(float(lz.top_probs[r, p, 0]), 4), "rank": int(lz.final_rank[r, p]),
                "kl_final": round(float(lz.kl_final[r, p]), 3), "kl_input": round(float(lz.kl_input[r, p]), 3),
            })
    n = len(t.tokens) - 1
    window = min(N_POS, n)
    metric = alt.param(name="metric", value=METRICS[0],
                       bind=alt.binding_radio(options=METRICS, name="colour shows "))
    start = alt.param(name="start", value=max(1, n - window + 1),
                      bind=alt.binding_range(min=1, max=max(1, n - window + 1), step=1, name="first position "))
    d = alt.datum
    # Colour = how settled the cell is, in [0, 1], for the chosen metric: probability as it is; ranks and
    # KL mapped so that rank 1 and 0 nats are 1, and the seed's caps (100, 30 nats) are 0.
    strength = alt.expr.if_(
        metric == METRICS[0], d.prob,
        alt.expr.if_(metric == METRICS[1], 1 - alt.expr.min(alt.expr.log(d.rank) / np.log(FINAL_RANK_CAP), 1),
                     1 - alt.expr.min((alt.expr.if_(metric == METRICS[2], d.kl_final, d.kl_input)) / KL_CAP, 1)))
    base = (alt.Chart(alt.Data(values=rows))
            .transform_filter((d.pos >= start) & (d.pos < start + window))
            .transform_calculate(strength=strength)
            .encode(x=alt.X("input:N", sort=alt.EncodingSortField("pos"), title=None,
                            axis=alt.Axis(labelAngle=-45, labelLimit=90)),
                    y=alt.Y("depth:N", sort=labels, title=None)))
    cells = base.mark_rect().encode(
        color=alt.Color("strength:Q", scale=alt.Scale(range=style.vega_range("magnitude"), domain=[0, 1]), legend=None),
        tooltip=[alt.Tooltip("input:N", title="position"), alt.Tooltip("depth:N"), alt.Tooltip("top5:N", title="top 5"),
                 alt.Tooltip("prob:Q", format=".1%", title="top-1 probability"),
                 alt.Tooltip("rank:Q", title="rank of final answer"),
                 alt.Tooltip("kl_final:Q", title="KL to output (nats)"),
                 alt.Tooltip("kl_input:Q", title="KL to input (nats)")])
    text = base.mark_text(fontSize=11, limit=54).encode(
        text="guess:N",
        color=alt.Color("strength:Q", scale=alt.Scale(type="threshold", domain=[0.1 * i for i in range(1, 10)],
                                                      range=style.vega_range("magnitude-labels")), legend=None))
    chart = (cells + text).add_params(metric, start).properties(width=56 * window, height=22 * len(labels))
    return Figure(
        data={"n_cells": len(rows), "window": window, "n_positions": n},
        alt=f"Interactive grid of the lens's top guess at {len(labels)} depths for {n} positions, {window} at a time, "
            "with a choice of colour: probability, rank of the final answer, KL to the output or to the input; "
            "tooltips list each cell's five likeliest tokens",
        caption=f"The whole passage, {window} positions at a time: the stronger a cell's colour, the more settled its "
                "reading by the measure chosen. Hover a cell for its five likeliest tokens.",
        chart=chart, prompts=[prompt],
    )
