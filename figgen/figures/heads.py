"""Shared pieces of the attention-head figures (attention-head, qkv, causal-attention,
attention-pattern, result-vectors; qk-circuit uses `score_scale`): the per-build analyses they share,
the example head they all draw, the scale of q·k, and drawing helpers for matrices, masked attention
grids and packed altair data.
"""

from __future__ import annotations


import altair as alt
import numpy as np
from matplotlib.colors import Normalize
from matplotlib.patches import Polygon

from ..analysis import attention
from ..analysis.circuits import max_abs_diff
from . import style
from .labels import head_label, sig

MAX_POS = 32  # positions drawn in attention grids; longer prompts show their first MAX_POS tokens
# Figure width for the column: the SVG is saved with a tight bounding box, which adds about 0.1 in on each
# side of a constrained layout, so draw a little narrower than style.COLUMN_IN to stay within 690 px.
WIDTH_IN = style.COLUMN_IN - 0.2


# --- what several figures share (memoised per build through ctx.analysis) ----------------------------


def patterns(ctx) -> np.ndarray:
    """(n_layers, n_heads, query_pos, key_pos) every head's attention pattern, float64."""
    return np.stack([ctx.trace[f"blocks.{l}.attn.hook_pattern"] for l in range(ctx.dims.n_layers)]).astype(np.float64)


def z_vectors(ctx) -> np.ndarray:
    """(n_layers, pos, n_heads, d_head) every head's result vector z, float64."""
    return np.stack([ctx.trace[f"blocks.{l}.attn.hook_z"] for l in range(ctx.dims.n_layers)]).astype(np.float64)


def summary(ctx) -> attention.HeadSummary:
    return attention.summarize(ctx.analysis(patterns), ctx.analysis(z_vectors))


def focus(ctx) -> attention.Focus:
    """The example head of the qkv, causal-attention and result-vectors pages (see attention.focus_head)."""
    return attention.focus_head(ctx.analysis(patterns))


def focus_data(ctx) -> dict:
    """The example head as data keys, and why it was chosen."""
    f = ctx.analysis(focus)
    t = ctx.trace
    last = len(t.tokens) - 1
    return {"head": head_label(f.layer, f.head), "layer": f.layer, "head_index": f.head,
            "query_position": last, "query_token": ctx.token_str(t.tokens[last]),
            "key_position": f.key, "key_token": ctx.token_str(t.tokens[f.key]), "key_weight": round(f.weight, 4)}


def example_caption(d: dict) -> str:
    """A caption's short name for the example head (the page's prose defines it once)."""
    return f"{d['head']}, the example head"


def check(a: np.ndarray, b: np.ndarray) -> float:
    """max |a − b| (masked −inf cells must match) to 3 significant digits: a recomputation's error."""
    return sig(max_abs_diff(a, b), 3)


def score_scale(ctx, layer: int) -> float:
    """The factor the trace multiplies q·k by: 1/√d_head (and 1/(layer+1) if the config says so)."""
    cfg = ctx.model.cfg
    scale = 1.0 / np.sqrt(ctx.dims.d_head) if getattr(cfg, "scale_attn_weights", True) else 1.0
    if getattr(cfg, "scale_attn_by_inverse_layer_idx", False):
        scale /= layer + 1
    return float(scale)


def shown_positions(n: int) -> int:
    return min(n, MAX_POS)


def positions_note(n: int) -> str:
    """Caption text when a grid shows only the first MAX_POS positions ('' otherwise)."""
    return f" Only the first {MAX_POS} of the prompt's {n} positions are drawn." if n > MAX_POS else ""


# --- matplotlib helpers ------------------------------------------------------------------------------


MASK_INK = "#8c8c8c"  # the causal mask's hatch lines: one grey that reads on both page backgrounds


def weight_cmap(theme: str):
    """Attention weights 0 → 1: the "attention" ramp of `theme` (weight 0 looks like the page). Masked cells
    (NaN) stay transparent: `hatch_future` draws the mask."""
    return style.cmap("attention", theme).with_extremes(bad=(0, 0, 0, 0))


def diverging_cmap(theme: str):
    """Signed values (scores): the "diverging" ramp of `theme`, masked cells (NaN) transparent."""
    return style.cmap("diverging", theme).with_extremes(bad=(0, 0, 0, 0))


def masked(m: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """m rounded to 4 decimals with the cells where `mask` is False set to NaN (drawn as 'bad')."""
    return np.where(mask, np.round(np.where(mask, m, 0.0), 4), np.nan)


def hatch_future(ax, n: int, theme: str, label: bool = True, origin: tuple[float, float] = (0.0, 0.0)) -> None:
    """Hatch the cells above the diagonal of an n × n imshow grid (key > query: masked) and label them.

    The one drawing of the causal mask in every figure (grey diagonal lines on the page background; the
    charts draw the same with `mask_fill`). origin: the grid's first cell centre, for grids in a mosaic."""
    x0, y0 = origin
    # Staircase around every cell (q, k) with k > q, in imshow's cell-centred coordinates.
    pts = [(0.5, -0.5), (n - 0.5, -0.5), (n - 0.5, n - 1.5)]
    for q in range(n - 2, -1, -1):
        pts += [(q + 0.5, q + 0.5), (q + 0.5, q - 0.5)]  # bottom-left, then top-left of row q's masked run
    ax.add_patch(Polygon([(x + x0, y + y0) for x, y in pts], closed=True, facecolor="none", hatch="///",
                         edgecolor=MASK_INK, linewidth=0))
    if label and n >= 3:
        ax.text(x0 + n - 1, y0, "masked" if n < 5 else "masked\n(−∞)", ha="right", va="top", fontsize=8,
                color=style.muted(theme), bbox={"facecolor": style.background(theme), "edgecolor": "none", "pad": 1})


def grid_labels(ax, labels: list[str], *, max_ticks: int = 24, xlabel="key", ylabel="query") -> None:
    """Token labels on both axes of a query × key grid (every n-th one for long prompts)."""
    step = max(1, -(-len(labels) // max_ticks))
    ticks = list(range(0, len(labels), step))
    ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=60, ha="right", fontsize=8)
    ax.set_yticks(ticks, [labels[i] for i in ticks], fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.tick_params(length=0)


def annotate_cells(ax, m: np.ndarray, fmt: str, norm, cmap) -> None:
    """Write each finite cell's value in black or white, whichever contrasts more with its colour."""
    for (i, j), v in np.ndenumerate(m):
        if np.isfinite(v):
            ax.text(j, i, format(v, fmt), ha="center", va="center", fontsize=style.MIN_FONT_PT,
                    color=style.label_colour(cmap(float(norm(v)))))


def matrix_panel(ax, m: np.ndarray, row_labels: list[str] | None, *, norm, theme: str, title: str,
                 xlabel: str, cmap=style.DIVERGING, separators: bool = True):
    """One matrix (rows × components) as a strip block, as `vector.strips` draws vectors, on `ax`.

    Values are rounded to 4 decimals before plotting (deterministic bytes). Returns the image."""
    m = np.round(np.asarray(m, np.float64), 4)
    n, d = m.shape
    image = ax.imshow(m, cmap=cmap, norm=norm, aspect="auto", interpolation="nearest")
    if row_labels is not None:
        ax.set_yticks(range(n), row_labels, fontsize=8)
    else:
        ax.set_yticks([])
    ax.set_xticks([0, d - 1], ["0", str(d - 1)])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if separators:  # thin gaps make each row read as its own vector
        for y in np.arange(0.5, n - 0.5, 1):
            ax.axhline(y, color=style.background(theme), linewidth=2)
    ax.set_xlabel(xlabel, color=style.muted(theme), fontsize=8)
    ax.set_title(title, loc="left", fontsize=10)
    return image


def colorbar(fig, image, ax, label: str | None = None):
    bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    bar.outline.set_visible(False)
    if label:
        bar.set_label(label)
    return bar


WEIGHT_NORM = Normalize(0.0, 1.0)


# --- altair helpers ----------------------------------------------------------------------------------


def packed_rows(arrays: dict[str, np.ndarray], n: int) -> list[dict]:
    """One row per (layer, head) with its cells packed in one list "v" (rounded; masked cells null).

    arrays: name → (n_layers, n_heads, k) values, concatenated in insertion order into "v". Vega-Lite
    unpacks them with `unpack` (flatten + a running index): a per-cell table would be several times
    larger (144 heads × 64 cells for GPT-2 with this prompt)."""
    stacked = np.concatenate([np.asarray(a, np.float64) for a in arrays.values()], axis=-1)
    n_layers, n_heads, _ = stacked.shape
    rows = []
    for l in range(n_layers):
        for h in range(n_heads):
            v = [None if not np.isfinite(x) else round(float(x), 4) for x in stacked[l, h]]
            rows.append({"l": l, "h": h, "label": head_label(l, h), "v": v})
    return rows


def flat_pattern(p: np.ndarray, n: int) -> np.ndarray:
    """patterns (layer, head, ≥n, ≥n) → (layer, head, n·n) row-major first n×n cells, NaN above the diagonal."""
    sub = np.asarray(p, np.float64)[..., :n, :n]
    return np.where(attention.causal_mask(n), sub, np.nan).reshape(*sub.shape[:-2], n * n)


def unpack(chart, n: int):
    """The Vega-Lite side of `packed_rows`: one datum per cell with i (0-based index into "v"), a row r and
    a column x. The first n·n cells (a pattern) fill rows 0…n−1 (query) by columns 0…n−1 (key); any
    later cells are per-position values, n per row, in rows n+1, n+2, … (row n stays empty: a gap).
    Masked cells keep v = null: layers filter with `PATTERN`, `MASK` or `AFTER_PATTERN`."""
    return (chart.transform_flatten(["v"])
            .transform_window(i="row_number()", groupby=["l", "h"])
            .transform_calculate(i="datum.i - 1")
            .transform_calculate(r=f"floor(datum.i / {n}) + (datum.i < {n * n} ? 0 : 1)", x=f"datum.i % {n}"))


def pattern_filter(n: int) -> str:
    """Vega expression: an unpacked datum is a pattern cell a query may attend to."""
    return f"datum.i < {n * n} && isValid(datum.v)"


def mask_filter(n: int) -> str:
    """Vega expression: an unpacked datum is a masked pattern cell (key after query)."""
    return f"datum.i < {n * n} && datum.x > datum.r"


def mask_fill(stripes: int = 4, width: float = 0.16) -> dict:
    """The causal mask in a chart: a Vega gradient that draws `stripes` grey diagonal lines across each
    masked cell (each `width` of the stripe period), as `hatch_future`'s hatch does in matplotlib figures."""
    clear, stops = "rgba(0,0,0,0)", [{"offset": 0, "color": "rgba(0,0,0,0)"}]
    for i in range(stripes):
        centre = (i + 0.5) / stripes
        lo, hi = round(centre - width / 2 / stripes, 4), round(centre + width / 2 / stripes, 4)
        stops += [{"offset": lo, "color": clear}, {"offset": lo, "color": MASK_INK},
                  {"offset": hi, "color": MASK_INK}, {"offset": hi, "color": clear}]
    stops.append({"offset": 1, "color": clear})
    # Along the diagonal from the top left: the lines run "/" as the hatch does, and with an even number of
    # stripes they continue from one cell into the next.
    return {"gradient": "linear", "x1": 0, "y1": 0, "x2": 1, "y2": 1, "stops": stops}


def names_param(name: str, labels: list[str]):
    """A param holding strings (token labels) as a JSON value: data, never spliced into an expression."""
    return alt.param(name=name, value=labels)


def label_expr(param: str) -> str:
    return f"{param}[datum.value]"

