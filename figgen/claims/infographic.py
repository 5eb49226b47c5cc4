"""The infographic's claims (seed 000): parameter counts, weight tying, an identity of the attention output."""

from __future__ import annotations

from .core import ARCHITECTURE, GPT2_SMALL, SEED_000, Claim


def _mlp_share_of_layers(components: dict) -> float:
    """MLP parameters / all parameters inside the layers (attention + MLP + LayerNorms)."""
    inside = components["attention"] + components["MLP"] + components["LayerNorm"]
    return components["MLP"] / inside


def _tied(max_diff: float) -> bool:
    return max_diff == 0.0


def _float_rounding(max_diff: float) -> bool:
    return max_diff <= 1e-4


CLAIMS: tuple[Claim, ...] = (
    Claim(
        id="embedding.w-e-params", source=SEED_000.at("Token embedding"),
        statement="The token embedding matrix W_E, one 768-component row for each of the 50,257 tokens, "
                  "holds 38,597,376 parameters.",
        about=GPT2_SMALL, keys=("embedding.params:W_E_params",), published=38_597_376, tolerance=0, fmt=",",
        conventions="d_vocab × d_model, counted from the model's dimensions."),
    Claim(
        id="embedding.w-e-share", source=SEED_000.at("Token embedding"),
        statement="W_E is 31% of all of GPT-2 124M's parameters.",
        about=GPT2_SMALL, keys=("embedding.params:W_E_share",), published=0.31, tolerance=0.005, fmt=".1%",
        conventions="W_U is tied to W_E, so it is counted once; the total (124,439,808 for GPT-2 124M) "
                    "includes W_pos, every bias and LayerNorm parameter. The infographic rounds to a whole percent."),
    Claim(
        id="embedding.n-params", source=SEED_000.at("Introduction"),
        statement="The model the infographic draws has about 124 million parameters.",
        about=GPT2_SMALL, keys=("embedding.params:n_params",), published=124_000_000, tolerance=500_000,
        fmt=",", conventions="Counted from the dimensions, tied W_U counted once (the name rounds to millions)."),
    Claim(
        id="mlp.two-thirds", source=SEED_000.at("MLP"),
        statement="The MLPs hold roughly two-thirds of a typical transformer's trainable parameters.",
        about=ARCHITECTURE, keys=("embedding.params:components",), compute=_mlp_share_of_layers,
        published=2 / 3, tolerance=0.02, fmt=".1%",
        conventions="Holds for the parameters inside the layers (attention, MLP, LayerNorm): with "
                    "d_mlp = 4·d_model each MLP has twice the weights of its attention sublayer. Counting "
                    "the embeddings too, GPT-2 124M's MLPs are 45.5% of all its parameters."),
    Claim(
        id="unembedding.tied", source=SEED_000.at("Unembedding"),
        statement="GPT-2 ties its embedding weights: the unembedding matrix is the embedding matrix "
                  "transposed, W_U = W_Eᵀ.",
        about=ARCHITECTURE, keys=("unembedding.similarity:tied_max_diff",), published="W_U = W_Eᵀ exactly",
        predicate=_tied, criterion="Reproduced when the largest |W_U − W_Eᵀ| is exactly 0", fmt=".3f",
        conventions="Compared element by element on the loaded weights (float32)."),
    Claim(
        id="output-vectors.concatenation", source=SEED_000.at("Introduction"),
        statement="Concatenating the heads' result vectors and projecting with the whole W_O gives the same "
                  "vector as projecting each head's result vector by its own slice of W_O and adding them.",
        about=ARCHITECTURE, keys=("output-vectors.check:max_diff_concat_vs_sum",),
        published="the same vector (an identity)", predicate=_float_rounding,
        criterion="Reproduced when the largest difference over every layer and position is at most 0.0001 "
                  "(float32 rounding)", fmt=".3f",
        conventions="Both routes computed in float64 from the traced result vectors, every layer and position "
                    "of the site prompt."),
)
