"""Heatmaps of large matrices: block-averaging to a drawable size, and a circuit matrix beside its spectrum.

`pool` averages a matrix into blocks of at most `MAX_PIXELS` per side (positional, qkv,
output-vectors); `matrix_and_spectrum` and `spectrum_data` draw and describe a (d_model, d_model)
circuit matrix with its singular values (qk-circuit, ov-circuit).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure as MplFigure
from matplotlib.ticker import FuncFormatter

from ..analysis import circuits
from . import style
from .labels import power_of_ten, sig

MAX_PIXELS = 256  # rows/columns drawn per heatmap axis; larger matrices are averaged into blocks


def pool(m: np.ndarray, max_rows: int, max_cols: int) -> tuple[np.ndarray, int, int]:
    """Average (r, c) into blocks so it has at most max_rows × max_cols cells; return block sizes."""
    r, c = m.shape
    br, bc = -(-r // max_rows), -(-c // max_cols)
    pr, pc = -(-r // br) * br, -(-c // bc) * bc
    padded = np.full((pr, pc), np.nan)
    padded[:r, :c] = m
    return np.nanmean(padded.reshape(pr // br, br, pc // bc, bc), axis=(1, 3)), br, bc


def matrix_and_spectrum(m: np.ndarray, spec: circuits.Spectrum, d_head: int, *, theme: str, name: str,
                        xlabel: str, ylabel: str) -> tuple[MplFigure, int]:
    """Left: the (d_model, d_model) matrix `m` as a heatmap (block-averaged to ≤ MAX_PIXELS per side; colours
    clipped at the 99th percentile of |m|). Right: its singular values on a log scale with d_head marked.
    Drawn the column's width. Returns the figure and block size."""
    pooled, block, _ = pool(m, MAX_PIXELS, MAX_PIXELS)
    d = len(m)
    fig = MplFigure(figsize=(style.COLUMN_IN - 0.2, 3.6), layout="constrained")
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1.0]})
    image = left.imshow(np.round(pooled, 4), cmap=style.cmap("diverging", theme),
                        norm=style.symmetric_norm(pooled, 0.99), interpolation="nearest",
                        extent=(-0.5, d - 0.5, d - 0.5, -0.5))
    left.set_xlabel(xlabel)
    left.set_ylabel(ylabel)
    left.set_title(name + (f"\n(blocks of {block}×{block} averaged)" if block > 1 else ""), loc="left")
    bar = fig.colorbar(image, ax=left, fraction=0.046, pad=0.03)
    bar.outline.set_visible(False)

    s = spec.singular
    floor = s[0] * 1e-18 if len(s) and s[0] > 0 else 1e-300  # exact zeros cannot sit on a log axis
    values = [sig(max(v, floor)) for v in s]
    index = np.arange(1, len(s) + 1)
    above = index <= spec.rank
    right.semilogy(index[above], np.asarray(values)[above], ".", color=style.ATTENTION, markersize=4,
                   label=f"{spec.rank} nonzero")
    right.semilogy(index[~above], np.asarray(values)[~above], ".", color=style.muted(theme), markersize=3,
                   label="zero up to rounding")
    right.axvline(d_head + 0.5, color=style.OPERATION, linestyle="--", linewidth=1)
    right.annotate(f"d_head = {d_head}", (d_head + 0.5, 1.0), xycoords=right.get_xaxis_transform(),
                   xytext=(4, -4), textcoords="offset points", color=style.OPERATION, va="top")
    right.yaxis.set_major_formatter(FuncFormatter(power_of_ten))  # mathtext is off: no $10^{k}$
    right.set_xlabel("singular value index")
    right.set_ylabel("singular value")
    right.set_title(f"its {len(s)} singular values:\nrank {spec.rank}", loc="left")
    right.legend(loc="center right")
    return fig, block


def spectrum_data(spec: circuits.Spectrum, d_head: int, d_model: int) -> dict:
    """Numbers the pages quote about a (d_model, d_model) matrix's singular values."""
    s = spec.singular
    last = float(s[d_head - 1]) if len(s) >= d_head else float(s[-1])
    after = float(s[d_head]) if len(s) > d_head else 0.0
    return {"rank": spec.rank, "d_head": d_head, "d_model": d_model, "n_singular": len(s),
            "sigma_max": sig(s[0]), "sigma_d_head": sig(last), "sigma_after": sig(after),
            "drop": sig(last / after) if after > 0 else None}
