"""The poster: the whole forward pass as one vector-level graph, computed from the build's trace.

One tall figure in the infographic's vertical order, drawn for the site's ≈ 690 px column (every text
≥ 8 pt, 10.7 px there): the prompt and its tokens; the token and positional embeddings, stacked; the
input embeddings; the residual stream running down the left edge, with branches that read it through
a LayerNorm and write back with ⊕ — layer 0's attention sublayer (its heads stacked, each adding its
own output vector z·W_O to the stream, no concatenation; their sum plus b_O is the attention output)
and layer 0's MLP, stacked; the other layers elided; the final LayerNorm; the unembedding of the final
position only; decoding.

Every vector is a strip of cells on the theme's diverging ramp (the first 128 components; a head's
row shows the first 32 of d_head and 64 of d_model), each block with its own scale; attention
patterns are on the "attention" ramp with the causal mask hatched. A strip is a one-pixel-high image
drawn without interpolation (`image-rendering: pixelated`), so its cells stay sharp at any zoom while
GPT-2's ~50,000 cells cost a few hundred kilobytes (as <rect>s they would take ~5 MB). Each strip image
has the id `<hook>/p<pos>` (`<hook>/h<head>/p<pos>` for per-head vectors, `<hook>/h<head>` for a
pattern), so tests can find its cells. Every part links (SVG <a>) to its section page with an href
relative to where the build serves figure files (`SERVED_AT`), so the links work under any site
prefix (mike versions) and when the SVG is opened on its own.

The drawing lives in helper modules, top to bottom: `poster_layout` (geometry, strip ids, links),
`poster_canvas` (primitives, strips, the residual stream), `poster_input` (title, legend, prompt,
embeddings), `poster_attention`, `poster_mlp`, `poster_output` (elided layers, unembedding, decoding).
"""

from __future__ import annotations

from ..context import printable
from .poster_attention import draw_attention
from .poster_canvas import Canvas
from .poster_input import draw_embeddings, draw_header, draw_prompt
from .poster_layout import CLIP_QUANTILE, QUANTILE, href
from .poster_mlp import draw_mlp
from .poster_output import draw_elided, draw_output, elided_layers, percent
from .registry import PAGES, Figure, figure


@figure("overview.poster", section="overview", title="The whole forward pass, one vector at a time",
        caption="One prompt's journey through the model, every strip a vector it really computed: tokens become "
                "embeddings, the residual stream carries them down through the heads and MLPs, and the last "
                "position's vector becomes the next-token guess. Click any part to open its page.")
def poster(ctx) -> Figure:
    p = Canvas(ctx)
    draw_header(p, ctx)
    draw_prompt(p)
    draw_embeddings(p)
    draw_attention(p)
    draw_mlp(p)
    draw_elided(p)
    ids, probs = draw_output(p, ctx)
    p.channel()
    fig = p.finish()
    d, t = ctx.dims, ctx.trace
    top = [{"token": ctx.token_str(i), "id": int(i), "prob": round(float(q), 4)} for i, q in zip(ids, probs)]
    return Figure(
        data={"prompt": printable(t.prompt), "n_layers": d.n_layers, "n_heads": d.n_heads, "d_model": d.d_model,
              "d_head": d.d_head, "d_mlp": d.d_mlp, "d_vocab": d.d_vocab, "n_tokens": len(t.tokens),
              "positions_shown": p.P, "components_shown": p.km, "head_components_shown": p.kh,
              "result_components_shown": p.kr, "quantile": QUANTILE, "clip_quantile": CLIP_QUANTILE,
              "top": top, "predicted": top[0]["token"],
              "predicted_prob": top[0]["prob"], "scales": dict(sorted(p.scales.items())),
              "links": {s: href(s) for s in PAGES}},
        alt=f"Poster of one forward pass of {ctx.model_info['name']} on the prompt {printable(t.prompt)!r} "
            f"({len(t.tokens)} tokens): token and positional embeddings summed into the residual stream, "
            f"layer 0's {d.n_heads} attention heads each adding its own output vector (their sum plus the bias "
            f"b_O is the attention output), layer 0's MLP, "
            f"{elided_layers(d.n_layers).lower() + ' elided, ' if d.n_layers > 1 else ''}"
            f"and the unembedding of the final position; the most likely next token is {top[0]['token']!r} "
            f"({percent(top[0]['prob'])}).",
        mpl=fig, links=True, png=True,
    )
