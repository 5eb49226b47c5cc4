"""Vocabulary space, part 1 (seed 003, McCormick): patterns and messages read as their nearest words.

Figures, in the order of the page (docs/deep-dives/vocabulary.md):
- the technique's high-bias filter: every whole word's prediction bias, and the mean bias of every
  list read on this page, with the threshold;
- patterns and messages of every head × token (layer and head picker);
- the post's table: the pattern of " home" at every head of layer 0;
- attended messages: one head's patterns and messages beside the attention each query pays.
All on the post's prompt. The arithmetic is figgen.analysis.vocab (`head_readings`); these functions only
choose and draw.
"""

from __future__ import annotations

import altair as alt
import numpy as np
from matplotlib.figure import Figure as MplFigure

from ..analysis import vocab as V
from ..context import token_display
from . import style
from .labels import cell_ink, head_label, join_words, rounded
from .registry import Figure, figure

PROMPT = V.PROMPT
K = 10  # nearest words per vector, as in the seed
K_ATTENDED = 5  # words per list in the attended-messages table (all K in its tooltips)
HOME = " home"  # the seed's table: this token's pattern at every head of layer 0
BASEBALL = " baseball"
ELSEWHERE_SHARE = 0.5  # "most heads of layer 0 point " home" elsewhere": at least this share of them
SMALL_VOCABULARY = 5000  # fewer whole words than this: the page says the lists repeat and mean less
OVERLAP = 0.5  # a head "leaves nearly the same list at every position": mean overlap of its lists at least this
IDENTITY_SHARE = 0.5  # a head's message "names the word it comes from": that word in its list at this share of positions
BOS_SHARE = 0.5  # a head "parks" its attention on the BOS when queries give position 0 at least this, on average
CELL_W = 165  # px per word column in the patterns-and-messages table (narrow: phones show it at ~½ scale otherwise)
LINE_CHARS = 24  # characters per line of a word list in it


# --- what the figures share ------------------------------------------------------------------------


def _readings(ctx) -> V.HeadReadings:
    return ctx.analysis(V.head_readings, PROMPT, K)


def _positions(ctx) -> list[str]:
    t = ctx.trace_of(PROMPT)
    return [f"{p}: {s}" for p, s in enumerate(ctx.token_strs(t.tokens))]


def _wrap(words: list[str], chars: int) -> str:
    """Words joined by spaces into lines of at most `chars` characters (a longer word gets its own line)."""
    lines: list[str] = []
    for w in words:
        if lines and len(lines[-1]) + 1 + len(w) <= chars:
            lines[-1] += " " + w
        else:
            lines.append(w)
    return "\n".join(lines)


def _list(ctx, r: V.Reading, idx: tuple, n: int, chars: int) -> dict:
    """One list of a Reading at index `idx` (layer, head, pos) as chart fields: the wrapped words (or
    "(high bias)"), the top cosine, and a tooltip of every match with its cosine."""
    ids, cos = r.ids[idx], r.cosines[idx]
    words = [ctx.token_str(i) for i in ids]
    matches = ", ".join(f"{w} {c:.2f}" for w, c in zip(words, cos))
    high = bool(r.high[idx])
    return {"words": "(high bias)" if high else _wrap(words[:n], chars),
            "top": 0.0 if high else round(float(max(cos[0], 0.0)), 3),
            "matches": matches, "z": round(float(r.mean_z[idx]), 2), "high": high}


def _domain(r: V.HeadReadings) -> float:
    """The upper end of the shared cosine colour scale: the largest top-1 cosine shown, up to the next 0.05."""
    tops = np.concatenate([r.patterns.cosines[..., 0][~r.patterns.high], r.messages.cosines[..., 0][~r.messages.high]])
    return float(np.ceil(max(float(tops.max(initial=0.05)), 0.05) * 20) / 20)


def _pickers(ctx, layer: int, head: int):
    L, H = ctx.dims.n_layers, ctx.dims.n_heads
    lp = alt.param(name="layer", value=layer, bind=alt.binding_select(options=list(range(L)), name="layer "))
    hp = alt.param(name="head", value=head, bind=alt.binding_select(options=list(range(H)), name="head "))
    return lp, hp


def _row_height(lists: list[dict]) -> int:
    """px per table row: the longest word list's lines, 14 px each, and a margin."""
    return 14 * max(x["words"].count("\n") + 1 for x in lists) + 10


def _words_panel(rows: list[dict] | None, order: list[str], kinds: list[str], width: int, row_h: int, top: float,
                 tooltip_title: str, keep=None):
    """Rows (positions or heads) × kinds (pattern, message…): each cell its word list, coloured by its
    top-1 cosine (one scale, [0, top]), the list's every match and cosine in the tooltip.

    Each of `rows` holds one table row: "row" (its label), filter fields, and one `_list` dict per kind
    under the kind's name; the chart folds them into cells after filtering (one data row per table row
    keeps the spec small: altair validates inline data row by row)."""
    y = alt.Y("row:N", sort=order, title=None, axis=alt.Axis(labelLimit=120))
    base = alt.Chart() if rows is None else alt.Chart(alt.Data(values=rows))  # None: the concat's data
    if keep is not None:
        base = base.transform_filter(keep)
    base = base.transform_fold(kinds, as_=["kind", "cell"]).transform_calculate(
        words="datum.cell.words", top="datum.cell.top", matches="datum.cell.matches", z="datum.cell.z")
    base = base.encode(
        x=alt.X("kind:N", sort=kinds, title=None, axis=alt.Axis(orient="top", labelAngle=0, ticks=False, domain=False)),
        y=y)
    tooltip = [alt.Tooltip("row:N", title=tooltip_title), alt.Tooltip("kind:N", title="vector"),
               alt.Tooltip("matches:N", title=f"nearest {K} (cosine)"),
               alt.Tooltip("z:Q", format="+.2f", title="mean bias z")]
    cells = base.mark_rect(stroke=None).encode(
        color=alt.Color("top:Q", scale=alt.Scale(range=style.vega_range("similarity"), domain=[0, top], clamp=True),
                        legend=alt.Legend(title="top-1 cosine", format=".2f", orient="bottom", gradientLength=160)),
        tooltip=tooltip)
    text = base.mark_text(align="left", baseline="top", lineBreak="\n", dx=-width / 2 + 6, dy=-row_h / 2 + 5,
                          fontSize=11, lineHeight=14, limit=width - 10).encode(
        text="words:N", color=cell_ink("top", "similarity", (0, top)), tooltip=tooltip)
    return (cells + text).properties(width=width * len(kinds), height=row_h * len(order))


# --- the technique: the high-bias filter -------------------------------------------------------------


@figure("vocabulary.bias", section="vocabulary", title="Each word's prediction bias, and the high-bias filter",
        caption="Top: every whole word's prediction bias. Bottom: the mean bias of each list of nearest words "
                "read on this page, with the threshold.", prompts=(PROMPT,))
def bias_figure(ctx) -> Figure:
    voc = ctx.analysis(V.vocabulary)
    r = _readings(ctx)
    W = ctx.weights
    raw = V.token_bias(W["W_U"], W["ln_final.b"], W["b_U"] if "b_U" in W else None)
    keep = voc.keep
    z = voc.z[keep]
    ids = np.flatnonzero(keep)
    order = np.argsort(voc.z[ids], kind="stable")
    low, high_ = ids[order[:5]], ids[order[::-1][:5]]
    thr = r.patterns.threshold
    fig = MplFigure(figsize=(style.COLUMN_IN, 5.0), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1)
    ink, muted = style.ink(ctx.theme), style.muted(ctx.theme)
    ax1.hist(z, bins=60, color=style.PARAMETER)
    ax1.set_xlabel("a whole word's bias, z (standard deviations from the mean over whole words)")
    ax1.set_ylabel("whole words")
    ax1.set_title(f"The {len(ids):,} whole words of the vocabulary", loc="left")
    ax1.text(0.01, 0.97, "highest: " + " ".join(ctx.token_strs(high_)) + "\nlowest: " + " ".join(ctx.token_strs(low)),
             transform=ax1.transAxes, ha="left", va="top", color=ink, linespacing=1.5)
    ax1.set_ylim(0, ax1.get_ylim()[1] * 1.45)  # room for the two lines of words
    pz, mz = r.patterns.mean_z.ravel(), r.messages.mean_z.ravel()
    lim = max(float(np.abs(np.concatenate([pz, mz])).max()), thr) * 1.08
    bins = np.linspace(-lim, lim, 49)
    ax2.hist([pz, mz], bins=bins, color=[style.ATTENTION, style.OPERATION], label=["patterns", "messages"],
             stacked=True)
    for x in (-thr, thr):
        ax2.axvline(x, color=muted, linestyle="--", linewidth=1)
    ax2.text(0.99, 0.97, f"dashed: ±{thr:g}, “(high bias)” beyond", transform=ax2.transAxes, ha="right", va="top",
             color=ink)
    ax2.set_ylim(0, ax2.get_ylim()[1] * 1.3)  # room for the legend and the note
    ax2.set_xlabel(f"mean z of a list's {K} nearest words")
    ax2.set_ylabel("lists")
    ax2.set_title("Every pattern and message of every head and position of the prompt", loc="left")
    ax2.legend(loc="upper left")
    n_lists = pz.size + mz.size
    hp, hm = int(r.patterns.high.sum()), int(r.messages.high.sum())
    listed = np.concatenate([r.patterns.ids[~r.patterns.high].ravel(), r.messages.ids[~r.messages.high].ravel()])
    n_distinct = int(np.unique(listed).size)
    n_words = int(keep.sum())
    small = n_words < SMALL_VOCABULARY
    within = float((np.abs(z) <= thr).mean())
    vocab_note = (f"This model has only {n_words:,} whole words, so the lists on this page are drawn from a few "
                  f"hundred: the {listed.size:,} places in them hold {n_distinct:,} different words, the same "
                  "words recur from list to list, and a list says less about its vector than one drawn from "
                  "GPT-2's tens of thousands of whole words would" if small else
                  f"The lists are drawn from {n_words:,} whole words: the {listed.size:,} places in the lists on "
                  f"this page hold {n_distinct:,} different words")
    return Figure(
        data={"threshold": thr, "n_words": int(keep.sum()), "d_vocab": int(len(keep)), "k": K,
              "highest": ctx.token_strs(high_), "lowest": ctx.token_strs(low),
              "highest_text": " ".join(ctx.token_strs(high_)), "lowest_text": " ".join(ctx.token_strs(low)),
              "bias_mean": round(float(raw[keep].mean()), 4), "bias_std": round(float(raw[keep].std()), 4),
              "n_lists": int(n_lists), "n_patterns": int(pz.size), "n_messages": int(mz.size),
              "n_listed": int(listed.size), "n_distinct_words": n_distinct, "small_vocabulary": bool(small),
              "small_threshold": SMALL_VOCABULARY, "vocab_note": vocab_note,
              "n_high_patterns": hp, "n_high_messages": hm, "share_within": round(within, 4),
              "share_high_patterns": round(hp / max(pz.size, 1), 4),
              "share_high_messages": round(hm / max(mz.size, 1), 4)},
        alt=f"Two histograms: the prediction bias of the {len(ids):,} whole words in standard deviations, highest "
            f"{' '.join(ctx.token_strs(high_))}, lowest {' '.join(ctx.token_strs(low))}; and the mean bias of the "
            f"{n_lists} word lists of this page with the ±{thr:g} threshold: {hp} pattern lists and {hm} message "
            "lists beyond it",
        caption=f"Top: {within:.0%} of the whole words have a prediction bias within {thr:g} standard deviation of the "
                f"mean; the five highest and lowest are named. Bottom: the lists of nearest words beyond the dashed "
                f"lines, {hp} of the {pz.size} pattern lists and {hm} of the {mz.size} message lists, show as "
                "“(high bias)” in the tables below.",
        mpl=fig, prompts=[PROMPT],
    )


# --- view 1: patterns and messages of every head × token ---------------------------------------------


def list_overlap(r: V.Reading) -> np.ndarray:
    """(layer, head): how much a head's lists repeat across positions: the mean, over pairs of positions after the
    BOS whose lists are not high bias, of the share of words two lists have in common (NaN: fewer than 2 lists)."""
    L, H, P, k = r.ids.shape
    out = np.full((L, H), np.nan)
    for l in range(L):
        for h in range(H):
            sets = [set(r.ids[l, h, p].tolist()) for p in range(1, P) if not r.high[l, h, p]]
            pairs = [len(a & b) / k for i, a in enumerate(sets) for b in sets[i + 1:]]
            if pairs:
                out[l, h] = float(np.mean(pairs))
    return out


# --- the post's own heads (GPT-2 124M's; the post's "11-3" is L11H3): scores for its claims ---------------
REPEATING = ((11, 3), (4, 8), (7, 1), (9, 8), (10, 0))  # messages repeating a (baseball) context; L11H3 first
IDENTITY = ((6, 9), (7, 10), (9, 9), (8, 11))  # messages that match the input word
ALLITERATION = (8, 11)
ALLITERATION_WORDS = (" baseball", " player", " hit", " run")  # the post's examples ("a" behaves otherwise)
RECURRING = (6, 6)
RECURRING_WORDS = (" hit", " March", " flight")  # the words the post names in L6H6's patterns
TRIFECTA = (5, 10)
TRIFECTA_KEY = " player"
TRIFECTA_PATTERN = (" teammates", " scored")
TRIFECTA_MESSAGE = (" athlete", " injury")
N_CONTEXT = 100  # baseball's neighbourhood: the whole words nearest "␣baseball"'s own embedding row
CONTEXT_MIN = 3  # a list "is in baseball's context" with at least this many of them among its K words
RECUR_MIN = 2  # a word "recurs" in a head's lists when it is in the lists of at least this many positions
ATTEND_MIN = 0.1  # a later query "attends to" a key giving it at least this weight and more than any word but it


def _has(ctx, layer: int, head: int) -> bool:
    return layer < ctx.dims.n_layers and head < ctx.dims.n_heads


def _absent(ctx, heads) -> str:
    """'' when the model has every one of `heads`; else a sentence naming those it lacks."""
    missing = [head_label(*lh) for lh in heads if not _has(ctx, *lh)]
    shape = f"({ctx.dims.n_layers} layers of {ctx.dims.n_heads} heads)"
    if not missing:
        return ""
    return (f"this model has no {missing[0]} {shape}" if len(missing) == 1 else
            f"this model has none of {join_words(missing)} {shape}" if len(missing) == len(heads) else
            f"this model lacks {join_words(missing)} {shape}")


def _pct(values: dict) -> str:
    """'62% (L4H8), 40% (L7H1) …', a head this model lacks as 'none (L9H8)'."""
    return join_words([f"{'none' if v is None else format(v, '.0%')} ({k})" for k, v in values.items()])


def _position_of(ctx, word: str) -> int | None:
    t = ctx.trace_of(PROMPT)
    return next((p for p, tok in enumerate(t.tokens) if ctx.tokenizer.decode([int(tok)]) == word), None)


def _opt(x) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 4)


def post_heads(ctx) -> dict:
    """The scores of the post's named heads on the post's prompt (None where this model lacks the head), plus
    one sentence each for the page. Memoised: patterns-messages carries them, attended its own trifecta."""
    r = _readings(ctx)
    t = ctx.trace_of(PROMPT)
    tokens = np.asarray(t.tokens)
    voc = ctx.analysis(V.vocabulary)
    overlaps = list_overlap(r.messages)  # (layer, head)
    bb = _single_id(ctx, BASEBALL)
    context = (voc.read(voc.W_E[[bb]], N_CONTEXT).ids[0] if bb is not None and voc.keep[bb]
               else np.zeros(0, np.int64))
    repeating = {head_label(l, h): {"overlap": _opt(overlaps[l, h]) if _has(ctx, l, h) else None,
                                    "baseball_share": _opt(V.context_share(r.messages, l, h, context, CONTEXT_MIN))
                                    if _has(ctx, l, h) and len(context) else None}
                 for l, h in REPEATING}
    identity = {head_label(l, h): _opt(V.self_match_share(r.messages, tokens, l, h)) if _has(ctx, l, h) else None
                for l, h in IDENTITY}
    words = ctx.analysis(V.decoded_vocabulary)
    positions = [_position_of(ctx, w) for w in ALLITERATION_WORDS]
    allit = {"head": head_label(*ALLITERATION), "words": ctx.token_strs([tokens[p] for p in positions if p is not None]),
             "counts": None, "chance": None, "ratio": None, "n_words_with": None, "found": None}
    if _has(ctx, *ALLITERATION) and None not in positions:
        a = V.alliteration(r.messages, *ALLITERATION, positions, ALLITERATION_WORDS, words, voc.keep)
        l, h = ALLITERATION
        allit |= {"counts": a.counts, "chance": [round(c, 4) for c in a.chance], "ratio": _opt(a.ratio),
                  "n_words_with": sum(c > 0 for c in a.counts),
                  "found": [[] if r.messages.high[l, h, p] else
                            [ctx.token_str(i) for i in r.messages.ids[l, h, p] if V.alliterates(words[int(i)], src)]
                            for p, src in zip(positions, ALLITERATION_WORDS)]}
    named = [_single_id(ctx, w) for w in RECURRING_WORDS]
    rec = {"head": head_label(*RECURRING), "named": [token_display(w) for w in RECURRING_WORDS],
           "named_positions": None, "recurring": None, "n_recurring": None}
    if _has(ctx, *RECURRING):
        ids = V.recurring(r.patterns, *RECURRING, RECUR_MIN)
        rec |= {"named_positions": [None if i is None else V.positions_with(r.patterns, *RECURRING, [i])[0]
                                    for i in named],
                "recurring": ctx.token_strs(ids), "n_recurring": len(ids)}
    return {"repeating": repeating, "identity": identity, "alliteration": allit, "recurring": rec,
            "context_words": ctx.token_strs(context[:10]), "context_text": ", ".join(ctx.token_strs(context[:10])),
            "n_context": int(len(context)),
            "context_min": CONTEXT_MIN, "recur_min": RECUR_MIN, "text": _post_texts(ctx, repeating, identity, allit, rec)}


def _post_texts(ctx, repeating: dict, identity: dict, allit: dict, rec: dict) -> dict:
    """One sentence (or clause) per claim, from the scores: what the page says on this model."""
    first = head_label(*REPEATING[0])  # L11H3
    l11 = repeating[first]
    others = [k for k in repeating if k != first]
    rep = (_absent(ctx, REPEATING[:1]) or
           f"{first}'s message lists share {l11['overlap'] or 0:.0%} of their words between positions, and "
           f"{l11['baseball_share'] or 0:.0%} of them are in baseball's neighbourhood")
    rep_others = ("the four others share " + _pct({k: repeating[k]["overlap"] for k in others})
                  if any(_has(ctx, *lh) for lh in REPEATING[1:]) else _absent(ctx, REPEATING[1:]))
    ident = ("the message holds the input word itself at " + _pct(identity) + " of the positions"
             if any(_has(ctx, *lh) for lh in IDENTITY) else _absent(ctx, IDENTITY))
    if allit["counts"] is None:
        al = _absent(ctx, [ALLITERATION]) or "the post's four words are not all tokens of this prompt here"
    else:
        found = "; ".join(f"{', '.join(f) or 'none'} for {w}" for f, w in zip(allit["found"], allit["words"]))
        n = sum(allit["counts"])
        al = (f"its four lists hold {n} alliterating word{'' if n == 1 else 's'} ({found}), "
              + (f"{allit['ratio']:.1f} times as many as lists drawn at random would hold" if allit["ratio"] is not None
                 else "where no whole word of this model alliterates at random"))
    rc = (_absent(ctx, [RECURRING]) or
          f"{rec['n_recurring']} words recur in {rec['head']}'s patterns ({join_words(rec['recurring'][:8]) or 'none'}"
          f"{', …' if rec['n_recurring'] > 8 else ''}); of the post's three, " +
          join_words([f"{w} at {n} positions" if n is not None else f"{w} is not one token"
                      for w, n in zip(rec["named"], rec["named_positions"])]))
    return {"repeating": rep, "repeating_others": rep_others, "identity": ident, "alliteration": al, "recurring": rc}


@figure("vocabulary.patterns-messages", section="vocabulary", title="Patterns and messages, every head",
        caption="For one head at a time (pickers), the nearest words of each token's pattern and message.",
        prompts=(PROMPT,))
def patterns_messages(ctx) -> Figure:
    r = _readings(ctx)
    L, H, P = r.patterns.high.shape
    pos = _positions(ctx)
    rows = []
    for l in range(L):
        for h in range(H):
            for p in range(P):
                rows.append({"layer": l, "head": h, "row": pos[p],
                             **{kind: _list(ctx, reading, (l, h, p), K, LINE_CHARS)
                                for kind, reading in (("pattern", r.patterns), ("message", r.messages))}})
    top = _domain(r)
    lp, hp = _pickers(ctx, 0, 0)
    lists = [x[kind] for x in rows for kind in ("pattern", "message")]
    chart = _words_panel(rows, pos, ["pattern", "message"], CELL_W, _row_height(lists), top, "position",
                         keep=(alt.datum.layer == lp) & (alt.datum.head == hp)).add_params(lp, hp)
    first = [x for x in rows if x["layer"] == 0 and x["head"] == 0]
    rep = {kind: list_overlap(reading) for kind, reading in (("pattern", r.patterns), ("message", r.messages))}
    repeated = {}
    for kind, o in rep.items():
        best = np.unravel_index(np.nanargmax(np.nan_to_num(o, nan=-1.0)), o.shape)
        repeated[kind] = {"head": head_label(*(int(i) for i in best)), "overlap": round(float(o[best]), 4),
                          "n_heads": int((np.nan_to_num(o, nan=0.0) >= OVERLAP).sum()),
                          "overlaps": rounded(np.nan_to_num(o, nan=0.0))}
    hp_n, hm_n = int(r.patterns.high.sum()), int(r.messages.high.sum())
    tokens = np.asarray(ctx.trace_of(PROMPT).tokens)
    identity = np.array([[V.self_match_share(r.messages, tokens, l, h) for h in range(H)] for l in range(L)])
    n_identity = int((identity >= IDENTITY_SHARE).sum())
    return Figure(
        data={"n_layers": L, "n_heads": H, "n_positions": P, "k": K, "n_lists": len(lists),
              "n_high_patterns": hp_n, "n_high_messages": hm_n, "scale_top": top,
              "repeated": repeated, "overlap_threshold": OVERLAP, "post": ctx.analysis(post_heads),
              "identity": rounded(identity), "n_identity": n_identity, "identity_share": IDENTITY_SHARE,
              "finding": head_finding(repeated["pattern"]["n_heads"], n_identity, L * H),
              "prompt_tokens": ctx.token_strs(ctx.trace_of(PROMPT).tokens)},
        alt=f"Interactive table for one head at a time ({L} layers × {H} heads, chosen with two pickers; L0H0 first): "
            f"for each of the prompt's {P} positions, the {K} nearest whole words of its pattern and of its message. "
            f"L0H0's patterns: " + "; ".join(f"{x['row']}: {x['pattern']['words']}".replace("\n", " ")
                                             for x in first),
        caption="Pick a layer and a head. " + repeat_caption(repeated) + " The static image shows L0H0.",
        chart=chart, prompts=[PROMPT],
    )


def head_finding(n_repeating: int, n_identity: int, n_heads: int) -> str:
    """The page's opening clause: how many heads leave nearly the same pattern everywhere, how many write the
    word they come from."""
    rep = ("no head leaves nearly the same pattern at every position of the prompt" if n_repeating == 0 else
           f"{n_repeating} of the {n_heads} heads leave{'s' if n_repeating == 1 else ''} nearly the same pattern at "
           "every position of the prompt, whatever the token")
    ident = ("no head writes messages that name the word they come from at half of the positions or more"
             if n_identity == 0 else
             f"{n_identity} head{' writes messages' if n_identity == 1 else 's write messages'} that name the word "
             "they come from at half of the positions or more")
    return f"{rep}, and {ident}"


def repeat_caption(repeated: dict) -> str:
    """The table's point: at some heads one kind of list barely changes from position to position."""
    pat, msg = repeated["pattern"], repeated["message"]
    if max(pat["overlap"], msg["overlap"]) < OVERLAP:
        return "Every head's lists change from position to position."
    kind, best = ("patterns", pat) if pat["overlap"] >= msg["overlap"] else ("messages", msg)
    return f"At some heads the lists barely depend on the token: most of all {best['head']}'s {kind}."


# --- the post's table: " home" at every head of layer 0 ----------------------------------------------


def _home_position(ctx) -> int:
    """The position of " home" in the prompt (the last position if a tokenizer splits it)."""
    t = ctx.trace_of(PROMPT)
    at = [p for p, tok in enumerate(t.tokens) if ctx.tokenizer.decode([int(tok)]) == HOME]
    return at[0] if at else len(t.tokens) - 1


def home_scores(r: V.HeadReadings, pos: int, word_id: int | None, baseball_id: int | None) -> dict:
    """Layer 0's patterns for the token at `pos`: per head whether the list is high bias, the rank of the token
    itself in its list (None if absent), its top-1 id; and the counts the page and claims quote."""
    ids, high = r.patterns.ids[0, :, pos], r.patterns.high[0, :, pos]  # (head, k), (head,)
    H = len(high)
    rank = [None if high[h] or word_id not in ids[h] else int(np.flatnonzero(ids[h] == word_id)[0]) + 1
            for h in range(H)]
    elsewhere = [h for h in range(H) if not high[h] and rank[h] is None]
    itself = [h for h in range(H) if rank[h] == 1]
    tops = {int(ids[h, 0]) for h in elsewhere}
    return {"rank": rank, "elsewhere": elsewhere, "itself": itself, "n_distinct_top": len(tops),
            "baseball_l0h0": bool(baseball_id is not None and not high[0] and baseball_id in ids[0])}


def home_heads(n_elsewhere: int, n_heads: int) -> tuple[str, str]:
    """Who points " home" elsewhere, in words ("most heads of layer 0, 7 of 12,"), and the verb's ending ('' or
    's'): "most" from ELSEWHERE_SHARE of the heads on."""
    if n_elsewhere == n_heads:
        return f"all {n_heads} heads of layer 0", ""
    if n_elsewhere == 0:
        return "no head of layer 0", "s"
    if n_elsewhere / n_heads >= ELSEWHERE_SHARE:
        return f"most heads of layer 0, {n_elsewhere} of {n_heads},", ""
    return f"only {n_elsewhere} of layer 0's {n_heads} heads", "s" if n_elsewhere == 1 else ""


def _single_id(ctx, word: str) -> int | None:
    ids = ctx.tokenizer.encode(word)
    return int(ids[0]) if len(ids) == 1 else None


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def filter_effect(ctx, r: V.HeadReadings, pos: int, baseball_id: int | None) -> dict:
    """What the high-bias filter does to layer 0's lists for the token at `pos`: L0H0's list before the filter
    (its words, mean bias z, whether it is hidden, where “␣baseball” ranks in it) and the lists it hides."""
    ids, z, high = r.patterns.ids[0, :, pos], r.patterns.mean_z[0, :, pos], r.patterns.high[0, :, pos]
    def rank(h: int) -> int | None:
        return None if baseball_id is None or baseball_id not in ids[h] else int(np.flatnonzero(ids[h] == baseball_id)[0]) + 1
    hidden = [h for h in range(len(high)) if high[h]]
    with_bb = [head_label(0, h) for h in hidden if rank(h) is not None]
    words = ctx.token_strs(ids[0])
    bb = token_display(BASEBALL)
    z0 = f"{float(z[0]):+.2f}".replace("-", "−")
    l0h0 = (f"before the filter, L0H0's list for {ctx.token_str(r.tokens[pos])} reads {', '.join(words)}; its words' "
            f"mean bias is z = {z0}"
            + (", beyond the threshold, so the table hides it" if high[0] else ", within the threshold, so the table shows it")
            + (f", and {bb} is its {_ordinal(rank(0))} word" if rank(0) is not None else f", and {bb} is not in it"))
    hid = (f"the filter hides {len(hidden)} of layer 0's {len(high)} lists for this token "
           f"({', '.join(head_label(0, h) for h in hidden)}), " if hidden else
           f"the filter hides none of layer 0's {len(high)} lists for this token, ")
    hid += (f"and {bb} is in {join_words(with_bb)}" if with_bb else f"and {bb} is in none of the hidden ones" if hidden
            else "so it removes nothing here")
    return {"l0h0_words": words, "l0h0_z": round(float(z[0]), 4), "l0h0_high": bool(high[0]),
            "l0h0_baseball_rank": rank(0), "hidden": [head_label(0, h) for h in hidden],
            "hidden_z": [round(float(z[h]), 4) for h in hidden], "baseball_hidden_in": with_bb,
            "l0h0_text": l0h0, "hidden_text": hid}


@figure("vocabulary.home", section="vocabulary", title="One token, a reading per head: “home” in layer 0",
        caption="The pattern “home” leaves at every head of layer 0, as its nearest words.", prompts=(PROMPT,))
def home_figure(ctx) -> Figure:
    r = _readings(ctx)
    H = ctx.dims.n_heads
    pos = _home_position(ctx)
    word = ctx.token_str(ctx.trace_of(PROMPT).tokens[pos])
    s = home_scores(r, pos, _single_id(ctx, HOME), _single_id(ctx, BASEBALL))
    heads = [head_label(0, h) for h in range(H)]
    rows = [{"row": heads[h], "pattern": _list(ctx, r.patterns, (0, h, pos), K, 38)} for h in range(H)]
    ranks = [{"row": heads[h], "kind": f"rank of {word}",
              "rank": "high bias" if r.patterns.high[0, h, pos] else ("—" if s["rank"][h] is None else str(s["rank"][h]))}
             for h in range(H)]
    top = _domain(r)
    row_h = _row_height([x["pattern"] for x in rows])
    height = H * row_h
    words = _words_panel(rows, heads, ["pattern"], 270, row_h, top, "head")
    rank_panel = alt.Chart(alt.Data(values=ranks)).mark_text(fontSize=11).encode(
        x=alt.X("kind:N", title=None, axis=alt.Axis(orient="top", labelAngle=0, ticks=False, domain=False)),
        y=alt.Y("row:N", sort=heads, title=None, axis=alt.Axis(labels=False, ticks=False, domain=False)),
        text="rank:N").properties(width=70, height=height)
    chart = alt.hconcat(words, rank_panel, spacing=4)
    n_else, n_self = len(s["elsewhere"]), len(s["itself"])
    share = n_else / H
    who, verb = home_heads(n_else, H)
    verdict = f"{who} leave{verb} a pattern for {word} whose {K} nearest words do not include {word} itself"
    n_high = int(r.patterns.high[0, :, pos].sum())
    filtered = filter_effect(ctx, r, pos, _single_id(ctx, BASEBALL))
    return Figure(
        data={"word": word, "position": pos, "n_heads": H, "k": K, "n_elsewhere": n_else,
              "elsewhere": [heads[h] for h in s["elsewhere"]], "elsewhere_share": round(share, 4),
              "threshold": ELSEWHERE_SHARE, "verdict": verdict, "n_itself": n_self,
              "finding": f"{who} read{verb} {word} as other words",
              "itself": [heads[h] for h in s["itself"]], "itself_text": ", ".join(heads[h] for h in s["itself"]) or "none",
              "n_distinct_top": s["n_distinct_top"], "n_high": n_high, "baseball_l0h0": s["baseball_l0h0"],
              "ranks": [None if x is None else int(x) for x in s["rank"]], "filter": filtered},
        alt=f"Table of the {K} nearest whole words of the pattern {word} leaves at each of layer 0's {H} heads; "
            f"{n_else} lists do not contain {word}, {n_self} have it first, {n_high} are high bias",
        caption=f"{verdict[0].upper()}{verdict[1:]}"
                + (f"; {n_self} put{'s' if n_self == 1 else ''} it first" if n_self else "")
                + f". Right: where {word} ranks in each list (—: not among the {K}).",
        chart=chart, prompts=[PROMPT],
    )


# --- view 2: attended messages ------------------------------------------------------------------------


def bos_finding(n_bos: int, n_heads: int) -> str:
    """'Most of its heads, 100 of 144, give the BOS most of their attention' ("most" from more than half)."""
    share = n_bos / n_heads
    who = ("None of its heads give" if n_bos == 0 else
           f"All {n_heads} of its heads give" if n_bos == n_heads else
           f"Most of its heads, {n_bos} of {n_heads}, give" if share > 0.5 else
           f"Half of its heads, {n_bos} of {n_heads}, give" if share == 0.5 else
           f"One of its {n_heads} heads gives" if n_bos == 1 else
           f"A minority of its heads, {n_bos} of {n_heads}, give")
    return f"{who} the BOS most of their attention"


def attention_scores(ctx) -> dict:
    """Per head (layer, head): mean self-attention over queries ≥ 1 and mean attention to position 0."""
    t = ctx.trace_of(PROMPT)
    L = ctx.dims.n_layers
    pats = [t[f"blocks.{l}.attn.hook_pattern"] for l in range(L)]  # (head, q, k) each
    self_ = np.stack([V.self_attention(p) for p in pats])  # (layer, head)
    bos = np.stack([p[:, 1:, 0].mean(-1) for p in pats])  # (layer, head)
    return {"self": self_, "bos": bos}


def trifecta(ctx) -> dict:
    """The post's L5H10 example: which later queries attend to “␣player” (weight ≥ ATTEND_MIN and more than
    any other key but the BOS), and whether its pattern and message lists hold the post's words (None where this
    model lacks the head or a word is not one token)."""
    l, h = TRIFECTA
    pos = _position_of(ctx, TRIFECTA_KEY)
    out = {"head": head_label(l, h), "key": token_display(TRIFECTA_KEY), "position": pos,
           "pattern_words": [token_display(w) for w in TRIFECTA_PATTERN],
           "message_words": [token_display(w) for w in TRIFECTA_MESSAGE],
           "weights": None, "n_queries": None, "pattern": None, "message": None, "attend_min": ATTEND_MIN}
    if not _has(ctx, l, h) or pos is None:
        return out | {"text": _absent(ctx, [TRIFECTA]) or f"the prompt has no {token_display(TRIFECTA_KEY)} here"}
    r = _readings(ctx)
    A = ctx.trace_of(PROMPT)[f"blocks.{l}.attn.hook_pattern"][h]  # (q, k)
    later = range(pos + 1, A.shape[0])
    weights = [round(float(A[i, pos]), 4) for i in later]
    attends = [A[i, pos] >= ATTEND_MIN and A[i, pos] >= A[i, 1:i + 1].max() for i in later]

    def missing(reading: V.Reading, wanted) -> list[str] | None:  # the post's words not in the list; None: no list
        ids = [_single_id(ctx, w) for w in wanted]
        if reading.high[l, h, pos]:
            return None
        return [token_display(w) for w, i in zip(wanted, ids) if i is None or i not in reading.ids[l, h, pos]]

    texts = []
    for kind, reading, wanted in (("pattern", r.patterns, TRIFECTA_PATTERN), ("message", r.messages, TRIFECTA_MESSAGE)):
        gone = missing(reading, wanted)
        out[kind] = gone == []
        out[f"{kind}_list"] = ctx.token_strs(reading.ids[l, h, pos])
        out[f"{kind}_high"] = gone is None
        texts.append(f"its {kind} is high bias" if gone is None else
                     f"its {kind} holds {join_words([token_display(w) for w in wanted])}" if not gone else
                     f"its {kind} lacks {join_words(gone)}")
    out |= {"weights": weights, "n_queries": int(sum(attends)), "n_later": len(weights)}
    out["text"] = (f"{out['n_queries']} of the {len(weights)} later queries attend{'s' if out['n_queries'] == 1 else ''} "
                   f"to {out['key']} at {out['head']}; "
                   + " and ".join(texts))
    return out


@figure("vocabulary.attended", section="vocabulary", title="Attended messages: what each query picks up",
        caption="For one head (pickers): each token's pattern and message beside the attention every query pays "
                "to it.", prompts=(PROMPT,))
def attended(ctx) -> Figure:
    r = _readings(ctx)
    t = ctx.trace_of(PROMPT)
    L, H, P = r.patterns.high.shape
    pos = _positions(ctx)
    sc = ctx.analysis(attention_scores)
    best = tuple(int(i) for i in np.unravel_index(np.argmax(sc["self"]), sc["self"].shape))
    rows = []  # one per (layer, head, key position): its two lists and the attention from every query
    for l in range(L):
        A = t[f"blocks.{l}.attn.hook_pattern"]  # (head, q, k)
        for h in range(H):
            for j in range(P):
                rows.append({"layer": l, "head": h, "row": pos[j],
                             **{kind: _list(ctx, reading, (l, h, j), K_ATTENDED, 20)
                                for kind, reading in (("pattern", r.patterns), ("message", r.messages))},
                             "a": [round(float(A[h, i, j]), 3) if i >= j else None for i in range(P)]})
    top = _domain(r)
    lp, hp = _pickers(ctx, *best)
    row_h = _row_height([x[kind] for x in rows for kind in ("pattern", "message")])
    height = P * row_h
    keep = (alt.datum.layer == lp) & (alt.datum.head == hp)
    left = _words_panel(None, pos, ["pattern", "message"], 150, row_h, top, "key position", keep=keep)
    cell = min(30, 240 // P)
    base = (alt.Chart().transform_filter(keep)
            .transform_flatten(["a"])  # the attention from query 0, 1, … in order: number them
            .transform_window(n="row_number()", groupby=["row"])
            .transform_calculate(query="datum.n - 1")
            .transform_filter("datum.a != null")).encode(
        x=alt.X("query:O", scale=alt.Scale(domain=list(range(P))), title="query position",
                axis=alt.Axis(orient="top", labelAngle=0)),
        y=alt.Y("row:N", sort=pos, title=None, axis=alt.Axis(labels=False, ticks=False, domain=False)))
    heat = base.mark_rect().encode(
        color=alt.Color("a:Q", scale=alt.Scale(range=style.vega_range("attention"), domain=[0, 1]),
                        legend=alt.Legend(title="attention", orient="bottom", gradientLength=120)),
        tooltip=[alt.Tooltip("query:O", title="query position"), alt.Tooltip("row:N", title="key"),
                 alt.Tooltip("a:Q", format=".3f", title="attention")])
    if cell >= 28:  # the weights as text where they fit
        heat += base.mark_text(fontSize=11).encode(text=alt.Text("a:Q", format=".1f"),
                                                   color=cell_ink("a", "attention", (0, 1)))
    right = heat.properties(width=cell * P, height=height)
    chart = alt.hconcat(left, right, spacing=6, data=alt.Data(values=rows)).add_params(lp, hp).resolve_scale(
        color="independent")
    self_best = float(sc["self"][best])
    self_sorted = np.sort(sc["self"].ravel())[::-1]
    runner = float(self_sorted[1]) if self_sorted.size > 1 else 0.0
    bos_heads = sc["bos"] >= BOS_SHARE
    label = head_label(*best)
    return Figure(
        data={"most_self": label, "most_self_score": round(self_best, 4), "runner_up_score": round(runner, 4),
              "self": rounded(sc["self"]), "bos": rounded(sc["bos"]), "bos_threshold": BOS_SHARE,
              "n_bos_heads": int(bos_heads.sum()), "n_heads_total": int(L * H),
              "bos_share": round(float(bos_heads.mean()), 4), "k_shown": K_ATTENDED, "k": K,
              "default_head": label, "trifecta": ctx.analysis(trifecta),
              "finding": bos_finding(int(bos_heads.sum()), int(L * H))},
        alt=f"Interactive table for one head at a time ({label} first, the most self-attending head on this prompt, "
            f"mean self-attention {self_best:.2f}): for each key position, the {K_ATTENDED} nearest words of its "
            "pattern and its message, and the attention each later query pays to it",
        caption=f"Pick a layer and a head; the first shown, {label}, attends most to each query's own token. Each row "
                "is a key: its pattern and message, and beside them the attention each later query pays it, so a row "
                "shows who picks up that message.",
        chart=chart, prompts=[PROMPT],
    )
