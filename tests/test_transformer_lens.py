"""The day circuit's per-head numbers, recomputed in TransformerLens, the implementation the post used.

TransformerLens 4.3 loads the same HF directory (`TransformerBridge.boot_transformers`) and processes its
weights as `HookedTransformer.from_pretrained` does (`enable_compatibility_mode`: fold_ln,
center_writing_weights, center_unembed, fold_value_biases). Every quantity the seed-002 claims read is
computed here through its hooks and processed weights, independently of figgen.interventions and
figgen.analysis.processing, and compared with what the figures compute, to 1e-4:
on mini (its own heads) and on a GPT-2-shaped model (GPT2Config(), 12 × 12 heads, the post's heads) whose
LayerNorm gains and biases and linear biases are random — a fresh GPT2Config() has γ = 1 and every bias 0,
which would hide every difference between the conventions.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
bridge = pytest.importorskip("transformer_lens.model_bridge", reason="transformer-lens is a test dependency")

from figgen.context import Context  # noqa: E402
from figgen.figures import day_circuit as D  # noqa: E402
from figgen.figures import day_circuit_vitro as V  # noqa: E402
from figgen.figures import day_task as T  # noqa: E402

SHARED_TOKENIZER = Path(__file__).resolve().parents[2] / "shared" / "data" / "gpt2-tokenizer"
TOL = 1e-4
N_DATASET = 48  # the ablation datasets, small (the same on both sides)
EPS = 1e-5  # GPT-2's and mini's LayerNorm epsilon


def _biased_gpt2(path: Path) -> Path:
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    hf = GPT2LMHeadModel(GPT2Config())
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in hf.named_parameters():
            if "ln_" in name:  # γ around 1, β around 0
                p.add_(0.3 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.add_(0.2 * torch.randn(p.shape, generator=g))
    hf.save_pretrained(path)
    AutoTokenizer.from_pretrained(SHARED_TOKENIZER).save_pretrained(path)
    return path


@pytest.fixture(autouse=True)
def no_grad():
    """TransformerLens's parameters require gradients; nothing here needs them."""
    with torch.no_grad():
        yield


@pytest.fixture(scope="module", params=["mini", "gpt2-shaped"])
def pair(request, tmp_path_factory):
    """(figgen Context, TransformerLens bridge) for one model; the ablation datasets shrunk on both sides."""
    import figgen
    from figgen.model import MINI_DIR

    if request.param == "mini":
        path = MINI_DIR
    else:
        if not SHARED_TOKENIZER.is_dir():
            pytest.skip("the GPT-2-shaped model needs the real GPT-2 tokenizer (../shared/data/gpt2-tokenizer)")
        path = _biased_gpt2(tmp_path_factory.mktemp("gpt2-biased"))
    b = bridge.TransformerBridge.boot_transformers(str(path), device="cpu")
    b.enable_compatibility_mode(disable_warnings=True)
    b.set_use_attn_result(True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(T, "N_DATASET", N_DATASET)
        ctx = Context.from_model(figgen.load_model(str(path)), "If today is Monday, tomorrow is")
        ctx.analysis(T.dataset_means)  # computed while the small size is in force
        yield ctx, b


# --- TransformerLens's side: hooks and processed weights only ------------------------------------------------


def tl(b, tokens, hooks=(), names=()):
    """logits (batch, pos, d_vocab) and the cached hooks `names`, with `hooks` [(name, fn)] in force."""
    with torch.no_grad(), b.hooks(fwd_hooks=list(hooks)):
        logits, cache = b.run_with_cache(torch.as_tensor(tokens), names_filter=lambda n: n in names)
    return logits, cache


def probs_of(logits, targets):
    """logits (batch, d_vocab) → each row's probability of its target, float64."""
    lp = torch.log_softmax(logits.double(), -1)
    return lp[torch.arange(len(targets)), torch.as_tensor(targets)].exp().numpy()


def lnpre(x):
    """TransformerLens's processed LayerNorm (γ and β folded away): centre, divide by the scale."""
    x = x - x.mean(-1, keepdim=True)
    return x / (x.pow(2).mean(-1, keepdim=True) + EPS).sqrt()


def unembed(b, x):
    return lnpre(x) @ b.W_U + b.b_U


def set_z(layer_values):
    """A hook_z hook writing {head: value (pos, d_head) or 0} into z (batch, pos, head, d_head)."""
    def hook(z, hook):
        for h, value in layer_values.items():
            z[:, :, h] = value
        return z
    return hook


def mean_z(b, tokens):
    """Every layer's mean hook_z over a dataset: {layer: (pos, head, d_head)}."""
    L = b.cfg.n_layers
    names = [f"blocks.{l}.attn.hook_z" for l in range(L)]
    _, cache = tl(b, tokens, names=names)
    return {l: cache[names[l]].double().mean(0).float() for l in range(L)}


def datasets(ctx):
    """The mean- and random-ablation datasets the figures use (rebuilt as day_task builds them)."""
    from figgen.analysis import circuit as C
    from figgen.analysis.vocab import decoded_vocabulary

    t = ctx.analysis(T.task)
    words = C.space_words(ctx.analysis(decoded_vocabulary))
    return {"mean": C.dataset(t["tokens"][0], T.MEAN_SLOTS, C.random_word_ids(words, N_DATASET, 1, T.MEAN_SEED)),
            "random": C.dataset(t["tokens"][0], T.RANDOM_SLOTS, C.random_word_ids(words, N_DATASET, 3, T.RANDOM_SEED))}


def heads_on(b, x, heads, subject: int, fixed: bool):
    """TransformerLens's processed heads reading x (batch, pos, d_model), at the final query: their outputs
    summed (batch, d_model) and each head's attention to `subject` (one-hot there when `fixed`)."""
    ln = lnpre(x)
    total, attention = 0.0, {}
    for l, h in heads:
        q = ln[:, -1] @ b.W_Q[l, h] + b.b_Q[l, h]  # (batch, d_head)
        k, v = ln @ b.W_K[l, h] + b.b_K[l, h], ln @ b.W_V[l, h] + b.b_V[l, h]  # (batch, pos, d_head)
        if fixed:
            pattern = torch.zeros(x.shape[:2])
            pattern[:, subject] = 1.0
        else:
            pattern = torch.softmax((k @ q[:, :, None])[..., 0] / math.sqrt(b.cfg.d_head), -1)  # (batch, pos)
        attention[f"L{l}H{h}"] = pattern[:, subject]
        total = total + (pattern[:, :, None] * v).sum(1) @ b.W_O[l, h]
    return total, attention


def readout(b, s, layer):
    """s (batch, d_model) through MLP `layer` (s + MLP(LN(s))), or as it is for None, then unembedded."""
    if layer is not None:
        pre = lnpre(s) @ b.W_in[layer] + b.b_in[layer]
        act = 0.5 * pre * (1 + torch.tanh(math.sqrt(2 / math.pi) * (pre + 0.044715 * pre ** 3)))
        s = s + act @ b.W_out[layer] + b.b_out[layer]
    return unembed(b, s)


# --- the comparisons ------------------------------------------------------------------------------------------


def test_head_readings(pair):
    """Each head's output on its own, both readings: P(correct), P(subject), top-1 and the successor scores;
    and the month table's scores over every head."""
    ctx, b = pair
    t, r = ctx.analysis(T.task), ctx.analysis(T.head_readings)
    L, H = ctx.dims.n_layers, ctx.dims.n_heads
    names = [f"blocks.{l}.attn.hook_result" for l in range(L)] + ["ln_final.hook_scale"]
    _, cache = tl(b, t["tokens"], names=names)
    subject_ids = [t["day_ids"][u] for u in t["used"]]
    for l in range(L):
        res = cache[names[l]][:, -1]  # (prompt, head, d_model): TransformerLens's own head results
        own = b.unembed(b.ln_final(res))  # (prompt, head, d_vocab): the post's lens on one component
        stream = cache.apply_ln_to_stack(res.permute(1, 0, 2), layer=None, pos_slice=-1) @ b.W_U  # (head, prompt, d_vocab)
        for reading, logits in (("own", own.permute(1, 0, 2)), ("stream", stream)):
            for h in range(H):
                got = r[reading]
                assert np.abs(probs_of(logits[h], t["targets"]) - got["correct"][l, h]).max() < TOL, (reading, l, h)
                assert np.abs(probs_of(logits[h], subject_ids) - got["subject"][l, h]).max() < TOL, (reading, l, h)
                assert (logits[h].argmax(-1).numpy() == got["top"][l, h]).all(), (reading, l, h)
                days = logits[h][:, t["day_ids"]].argmax(-1).numpy()
                assert int((days == np.array(t["correct"])).sum()) == got["scores"][l, h], (reading, l, h)
    # the month table's counts, every head
    m, mt = ctx.analysis(V.month_lens), ctx.analysis(T.prompts, "month")
    if mt["used"]:
        _, cache = tl(b, mt["tokens"], names=names[:-1])
        month_ids = [ctx.tokenizer.encode(" " + x)[0] for x in T.MONTHS]
        correct = np.array([(i + 1) % 12 for i in mt["used"]])
        for l in range(L):
            own = b.unembed(b.ln_final(cache[names[l]][:, -1]))[:, :, month_ids]  # (prompt, head, 12)
            assert ((own.argmax(-1).numpy() == correct[:, None]).sum(0) == m["scores"][l]).all(), l


def _deltas(ctx, b, heads):
    """Δ mean correct probability per (kind, head) in TransformerLens: hook_z of the head zeroed (its value-bias
    term stays in b_O) or set to its mean over a dataset."""
    t = ctx.analysis(T.task)
    clean = probs_of(tl(b, t["tokens"])[0][:, -1], t["targets"])
    means = {k: mean_z(b, d) for k, d in datasets(ctx).items()}
    out = {}
    for l, h in heads:
        for kind in T.ABLATIONS:
            value = 0.0 if kind == "zero" else means[kind][l][:, h]
            logits, _ = tl(b, t["tokens"], hooks=[(f"blocks.{l}.attn.hook_z", set_z({h: value}))])
            out[kind, l, h] = float((probs_of(logits[:, -1], t["targets"]) - clean).mean())
    return out


def test_ablations(pair):
    """The single-head ablation table (zero, mean, random) and the clean run's correct probabilities."""
    ctx, b = pair
    t, a = ctx.analysis(T.task), ctx.analysis(T.ablation_deltas)
    clean = probs_of(tl(b, t["tokens"])[0][:, -1], t["targets"])
    assert np.abs(clean - t["probs"]).max() < TOL
    heads = (T.POST_NAMED if T.has_post_heads(ctx) else
             [(l, h) for l in range(ctx.dims.n_layers) for h in range(ctx.dims.n_heads)])
    for (kind, l, h), delta in _deltas(ctx, b, heads).items():
        assert abs(a[kind][l, h] - delta) < TOL, (kind, l, h, a[kind][l, h], delta)


def test_attention_and_fixed_rows(pair):
    """The heads' last-position attention rows, and the runs with a row fixed on each position."""
    ctx, b = pair
    t, c, a = ctx.analysis(T.task), ctx.analysis(T.circuit_heads), ctx.analysis(D.attention)
    heads = {"successor": [c["successor"]], "copying": [c["copying"]],
             "both": list(dict.fromkeys([c["successor"], c["copying"]]))}
    names = [f"blocks.{l}.attn.hook_pattern" for l, _ in heads["both"]]
    _, cache = tl(b, t["tokens"], names=names)
    for (l, h), name in zip(heads["both"], names):
        assert np.abs(cache[name][:, h, -1].numpy() - a["rows"][f"L{l}H{h}"]).max() < TOL
    for v, hs in enumerate(heads.values()):
        for k in range(t["tokens"].shape[1]):
            def fix(p, hook, k=k, hs=hs):
                for l, h in hs:
                    if hook.name == f"blocks.{l}.attn.hook_pattern":
                        p[:, h, -1] = 0.0
                        p[:, h, -1, k] = 1.0
                return p
            hooks = [(f"blocks.{l}.attn.hook_pattern", fix) for l in sorted({l for l, _ in hs})]
            logits, _ = tl(b, t["tokens"], hooks=hooks)
            assert np.abs(probs_of(logits[:, -1], t["targets"]) - a["probs"][v, k]).max() < TOL, (v, k)


def test_steering(pair):
    """α × the processed unembedding vector of " tomorrow" added where the successor head reads."""
    ctx, b = pair
    t, st = ctx.analysis(T.task), ctx.analysis(D.steering)
    l, h = st["layer"], st["head"]
    u = b.W_U[:, ctx.tokenizer.encode(T.STEER_TOKEN)[0]]  # TransformerLens's processed W_U column
    for i, alpha in enumerate(D.ALPHAS):
        for j, last in enumerate((False, True)):
            def add(x, hook, alpha=alpha, last=last):
                if last:
                    x[:, -1] += alpha * u
                    return x
                return x + alpha * u
            logits, cache = tl(b, t["tokens"], hooks=[(f"blocks.{l}.hook_resid_pre", add)],
                               names=[f"blocks.{l}.attn.hook_pattern"])
            attention = cache[f"blocks.{l}.attn.hook_pattern"][:, h, -1, t["subject"]].numpy()
            assert np.abs(attention - st["attn"][i, j]).max() < TOL, (alpha, last)
            assert np.abs(probs_of(logits[:, -1], t["targets"]) - st["probs"][i, j]).max() < TOL, (alpha, last)


def test_layers_and_mlps(pair):
    """The stream after each layer's attention and MLP through the lens, and each MLP zero-ablated."""
    ctx, b = pair
    t, ll = ctx.analysis(T.task), ctx.analysis(T.layer_lens)
    ids = T.lens_ids(ctx, t)  # (prompt, 10)
    L = ctx.dims.n_layers
    names = [f"blocks.{l}.hook_resid_{k}" for l in range(L) for k in ("mid", "post")]
    _, cache = tl(b, t["tokens"], names=names)
    for l in range(L):
        for k, kind in enumerate(("mid", "post")):
            logits = b.unembed(b.ln_final(cache[f"blocks.{l}.hook_resid_{kind}"][:, -1]))
            for col in range(ids.shape[1]):
                assert np.abs(probs_of(logits, ids[:, col]) - ll["probs"][l, k, :, col]).max() < TOL, (l, kind, col)
        logits, _ = tl(b, t["tokens"], hooks=[(f"blocks.{l}.hook_mlp_out", lambda x, hook: torch.zeros_like(x))])
        assert np.abs(probs_of(logits[:, -1], t["targets"]) - ll["zero_mlp"][l]).max() < TOL, l


def test_subsets(pair):
    """Every head outside a kept set replaced by its dataset mean (hook_z): each set of the page's path, read
    through the lens at its layer and at the output."""
    ctx, b = pair
    t, s = ctx.analysis(T.task), ctx.analysis(V.subsets)
    means = {k: mean_z(b, d) for k, d in datasets(ctx).items()}
    hook = f"blocks.{s['lens_layer']}.hook_resid_post"
    for kind, path in s["paths"].items():
        for step in path:
            kept = set(step["heads"])
            hooks = [(f"blocks.{l}.attn.hook_z", set_z({h: means[kind][l][:, h] for h in range(ctx.dims.n_heads)
                                                         if (l, h) not in kept})) for l in range(ctx.dims.n_layers)]
            logits, cache = tl(b, t["tokens"], hooks=hooks, names=[hook])
            assert np.abs(probs_of(logits[:, -1], t["targets"]) - step["output"]).max() < TOL, (kind, step["heads"])
            lens = b.unembed(b.ln_final(cache[hook][:, -1]))
            assert np.abs(probs_of(lens, t["targets"]) - step["lens"]).max() < TOL, (kind, step["heads"])


def _tl_step(ctx, b, kind: str, step: str, setup):
    """One in-vitro step rebuilt in TransformerLens: the stream the heads read (from hooks), then the heads, the
    sum and the read-out from its processed weights."""
    t = ctx.analysis(T.prompts, kind)
    cut = setup.cut
    if step in ("fed", "readout"):  # just the output of the feeding MLP's layer, its heads zero-ablated
        if setup.feed is None:  # the embeddings alone
            _, cache = tl(b, t["tokens"], names=["blocks.0.hook_resid_pre"])
            x = cache["blocks.0.hook_resid_pre"]
        else:
            assert setup.feed == 0, "the rebuilt setups feed from layer 0 (as the post's)"
            name = "blocks.0.hook_resid_post"
            _, cache = tl(b, t["tokens"], hooks=[("blocks.0.attn.hook_z", set_z({h: 0.0 for h in range(b.cfg.n_heads)}))],
                          names=[name])
            x = cache[name]
    else:  # the model below the cut, its heads random- or zero-ablated, the MLPs running
        means = mean_z(b, datasets(ctx)["random"]) if step == "random" else None
        hooks = [(f"blocks.{l}.attn.hook_z", set_z({h: means[l][:, h] if means else 0.0 for h in range(b.cfg.n_heads)}))
                 for l in range(cut)]
        name = f"blocks.{cut}.hook_resid_pre"
        _, cache = tl(b, t["tokens"], hooks=hooks, names=[name])
        x = cache[name]
    s, attention = heads_on(b, x, setup.heads, t["subject"], fixed=step not in ("random", "zero"))
    return probs_of(readout(b, s, setup.after if step == "readout" else None), t["targets"]), attention


def test_in_vitro(pair):
    """The post's in-vitro steps on the day prompts, and the last setup on months and numbers."""
    ctx, b = pair
    v = ctx.analysis(V.in_vitro)
    setup = v["setup"]
    if setup.feed not in (None, 0):
        pytest.skip(f"this model's circuit feeds from MLP {setup.feed}; the rebuilt setups feed from layer 0")
    for step in V.STEPS:
        probs, attention = _tl_step(ctx, b, "day", step, setup)
        ours = v["steps"][step]
        assert np.abs(probs - ours["probs"]).max() < TOL, step
        for name, a in attention.items():
            if step in ("random", "zero"):
                assert np.abs(a.numpy() - ours["attention"][name]).max() < TOL, (step, name)
    g = ctx.analysis(V.generalisation)
    for kind, key, s, step in (("month", "month", setup, "readout"), ("number", "number", setup, "readout"),
                               ("number", "number_simple", g["simple"], "fed")):
        if ctx.analysis(T.prompts, kind)["used"]:
            probs, _ = _tl_step(ctx, b, kind, step, s)
            assert np.abs(probs - g[key]["probs"]).max() < TOL, key
