"""Model sources: a Hugging Face hub id, a local directory in HF format, or the project's `mini`.

Every source ends in the same place: a local directory holding `config.json`, `model.safetensors`
and the tokenizer, loaded by `_load_dir`. Hub models are pinned to a commit and looked up in the
standard HF cache first; only when they are missing do we touch the network, and we check that
the hub is reachable (a short socket probe) before asking `huggingface_hub` to download, because
its client otherwise spends ~30 s retrying when offline.

`check_prompt` reads only config.json and the tokenizer (loaded by the same `_load_tokenizer`
as the model's), so a bad prompt is refused in about a second, before torch and the weights load.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import urlparse

from .errors import ModelError, ModelUnavailable, PromptError

#: Short names → (hub repo, pinned commit). Pinning keeps every figure reproducible: a re-upload on
#: the hub cannot change the numbers on the site without a change here.
HUB_MODELS: dict[str, tuple[str, str]] = {
    "gpt2": ("openai-community/gpt2", "607a30d783dfa663caf39e06633721c8d4cfcd7e"),
    "gpt2-medium": ("openai-community/gpt2-medium", "6dcaa7a952f72f9298047fd5137cd6e4f05f41da"),
    "gpt2-large": ("openai-community/gpt2-large", "32b71b12589c2f8d625668d2335a01cac3249519"),
    "gpt2-xl": ("openai-community/gpt2-xl", "15ea56dee5df4983c59b2538573817e1667135e2"),
    "distilgpt2": ("distilbert/distilgpt2", "2290a62682d06624634c1f46a6ad5be0f47f38aa"),
}
# The full repo ids are accepted too, at the same pins.
_BY_REPO = {repo: (repo, rev) for repo, rev in HUB_MODELS.values()}

#: The files a GPT-2 snapshot needs; nothing else is downloaded (no pickled weights).
HUB_FILES = [
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
]
#: What checking a prompt needs: the config and the tokenizer, never the weights.
TOKENIZER_FILES = [f for f in HUB_FILES if f not in ("model.safetensors", "generation_config.json")]

MINI = "mini"
MINI_DIR = Path(__file__).parent / "mini" / "weights"  # committed; rebuilt by `figgen train-mini`
PROBE_TIMEOUT = 3.0  # seconds; keeps "offline and not cached" well under 5 s


@dataclass(frozen=True)
class Source:
    """Where a model comes from, before anything is loaded."""

    kind: str  # "hub" | "local" | "mini"
    name: str  # what the user asked for
    repo_id: str | None = None  # hub only
    revision: str | None = None  # hub: the pinned commit ("main" for unpinned ids)
    path: Path | None = None  # local and mini


@dataclass(eq=False)
class Model:
    """A loaded GPT-2-family model.

    Attributes:
        hf: the transformers `GPT2LMHeadModel`, eval mode, float32.
        tokenizer: its (fast) tokenizer.
        name: resolved name with revision, e.g. ``openai-community/gpt2@607a30d…``.
        revision: hub commit, or a content hash of the weights for local directories and mini.
        source: ``"hub"``, ``"local"`` or ``"mini"``.
    """

    hf: object
    tokenizer: object
    name: str
    revision: str
    source: str
    path: Path = field(repr=False)

    @property
    def cfg(self):
        """The `GPT2Config`."""
        return self.hf.config

    @property
    def n_params(self) -> int:
        """Parameters counted once (W_U is tied to W_E)."""
        return sum(p.numel() for p in self.hf.parameters())

    @property
    def is_gpt2_small(self) -> bool:
        """True for the model the site is written about: GPT-2 124M from the hub."""
        return self.source == "hub" and self.name.startswith("openai-community/gpt2@")

    @cached_property
    def weights(self):
        """TransformerLens-shaped views of the weights (see `figgen.weights`)."""
        from .weights import Weights

        return Weights.from_hf(self.hf)


def resolve(name: str) -> Source:
    """Turn a user's model name into a `Source`, without loading or downloading anything."""
    if not isinstance(name, str) or not name.strip():
        raise ModelError(f"model name must be a non-empty string, got {name!r}")
    name = name.strip()
    if name == MINI:
        return Source("mini", name, path=MINI_DIR)
    path = Path(name).expanduser()
    if path.is_dir():
        return Source("local", name, path=path.resolve())
    if name in HUB_MODELS or name in _BY_REPO:
        repo, rev = HUB_MODELS.get(name) or _BY_REPO[name]
        return Source("hub", name, repo_id=repo, revision=rev)
    repo, _, rev = name.partition("@")
    if repo.count("/") == 1 and all(repo.split("/")) and not name.startswith((".", "/", "~")):
        return Source("hub", name, repo_id=repo, revision=rev or "main")
    known = ", ".join([*HUB_MODELS, MINI])
    raise ModelError(
        f"unknown model {name!r}: use one of {known}, a hub id like org/name[@revision], "
        "or a local directory in Hugging Face format"
    )


def load_model(name: str = "gpt2", *, device: str = "cpu") -> Model:
    """Load a GPT-2-family model by hub id, local HF directory, or ``"mini"``.

    Hub models come from the local HF cache when present; otherwise they are downloaded (pinned
    revision, safetensors only) if the hub is reachable, and refused within seconds if not.
    """
    src = resolve(name)
    path = _model_path(src)
    label, revision = _identity(src, path)
    hf, tokenizer = _load_dir(path, device=device)
    return Model(hf=hf, tokenizer=tokenizer, name=label, revision=revision, source=src.kind, path=path)


def identify(name: str) -> tuple[str, str]:
    """(resolved name, revision) of a model without loading it: the key of everything cached.

    Hub models pinned to a commit need no file at all; local directories are identified by a hash
    of their weights, so retraining `mini` invalidates every cached figure built from it.
    """
    src = resolve(name)
    if src.kind == "hub" and _is_commit(src.revision):
        return _identity(src, None)
    return _identity(src, _model_path(src))


def _identity(src: Source, path: Path | None) -> tuple[str, str]:
    if src.kind == "hub":
        revision = path.name if path is not None and _is_commit(path.name) else src.revision
        return f"{src.repo_id}@{revision}", revision
    weights = path / "model.safetensors"
    revision = _content_hash(weights) if weights.is_file() else ""
    return (MINI if src.kind == "mini" else str(path)), revision


def _is_commit(revision: str | None) -> bool:
    return bool(revision) and len(revision) == 40 and all(c in "0123456789abcdef" for c in revision)


def fetch(name: str) -> Path:
    """Download a hub model into the standard HF cache (with a progress bar); return its path."""
    src = resolve(name)
    if src.kind != "hub":
        raise ModelError(f"{name!r} is a local model ({src.path}); there is nothing to fetch")
    return _model_path(src)


def _model_path(src: Source, files: list[str] = HUB_FILES) -> Path:
    """The local directory of `src`; for hub models, a snapshot holding `files` (cached or downloaded)."""
    if src.kind != "hub":
        return src.path
    return _cached_snapshot(src, files) or _download(src, files)


# --- prompts, checked without the weights ---------------------------------------------------------


@dataclass(frozen=True)
class ConfigHeader:
    """The fields of config.json that tokenizing a prompt needs; defaults as `GPT2Config`'s (tested)."""

    n_positions: int = 1024
    vocab_size: int = 50257
    bos_token_id: int | None = 50256


@dataclass(frozen=True)
class Tokenizing:
    """A model's tokenizer and config header without its weights: what `trace.tokenize` reads."""

    tokenizer: object
    cfg: ConfigHeader


def check_prompt(model: str | Model, prompt: str, *, prepend_bos: bool = True,
                 skip_unavailable: bool = False) -> None:
    """Raise a one-line `FiggenError` if `trace(model, prompt)` would refuse `prompt`, without the weights.

    `model` is a name as for `load_model`, or a loaded `Model`. The prompt is tokenized by
    `trace.tokenize` itself, so the token count in the message (BOS included when prepended) is
    the one `trace` would report. Whitespace-only prompts are refused too, as `build` refuses them.
    For a name, only config.json and the tokenizer files are read (about a second; loading the
    weights imports torch first, several seconds more). A hub model whose files are neither cached
    nor downloadable raises `ModelUnavailable`, or, with `skip_unavailable`, is not checked (a build
    whose figures are all cached needs no model files).
    """
    from .trace import check_text, tokenize

    check_text(prompt)
    if not prompt.strip():
        raise PromptError("prompt is only whitespace: give at least one visible character")
    if not isinstance(model, Model):
        try:
            model = tokenizing(model)
        except ModelUnavailable:
            if skip_unavailable:
                return
            raise
    tokenize(model, prompt, prepend_bos=prepend_bos)


def tokenizing(name: str) -> Tokenizing:
    """The tokenizer and config header of model `name`, its BOS token checked; no weights are read."""
    path = _model_path(resolve(name), TOKENIZER_FILES)
    cfg = _read_config(path)
    tokenizer = _load_tokenizer(path)
    _check_bos(cfg, tokenizer, path)
    return Tokenizing(tokenizer, cfg)


def _check_bos(cfg, tokenizer, path: Path) -> None:
    """Refuse a BOS id that is not a row of W_E (it would fail deep in the trace with an IndexError).

    No BOS id at all is allowed here: only tracing with `prepend_bos=True` needs one."""
    from .trace import bos_token_id

    bos = bos_token_id(cfg, tokenizer)
    if bos is None or (type(bos) is int and 0 <= bos < cfg.vocab_size):
        return
    origin = "config.json" if cfg.bos_token_id is not None else "the tokenizer"
    raise ModelError(
        f"{path}: bos_token_id {bos!r} (from {origin}) is outside the vocabulary (vocab_size "
        f"{cfg.vocab_size}); set bos_token_id in config.json to a token id from 0 to {cfg.vocab_size - 1}"
    )


# --- hub ------------------------------------------------------------------------------------------


def _cached_snapshot(src: Source, files: list[str] = HUB_FILES) -> Path | None:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        path = Path(
            snapshot_download(
                src.repo_id, revision=src.revision, allow_patterns=files, local_files_only=True
            )
        )
    except (LocalEntryNotFoundError, FileNotFoundError, OSError):
        return None
    # A snapshot interrupted mid-download (or holding only the tokenizer, after a prompt check)
    # lacks some of `files`: treat it as missing.
    weights = "model.safetensors" not in files or (path / "model.safetensors").is_file()
    tokenizer = (path / "tokenizer.json").is_file() or (path / "vocab.json").is_file()
    return path if weights and tokenizer and (path / "config.json").is_file() else None


def _download(src: Source, files: list[str] = HUB_FILES) -> Path:
    from huggingface_hub import snapshot_download

    missing = (
        f"model {src.name!r} ({src.repo_id}@{src.revision[:12]}) is not in the local Hugging Face "
        f"cache and the hub is unreachable; run `figgen fetch {src.name}` with network access, "
        "or use `--model mini`"
    )
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}:
        raise ModelUnavailable(missing.replace("the hub is unreachable", "HF_HUB_OFFLINE is set"))
    if not hub_reachable():
        raise ModelUnavailable(missing)
    try:
        path = Path(snapshot_download(src.repo_id, revision=src.revision, allow_patterns=files))
    except Exception as err:  # hub errors come in many classes; the user needs one line
        raise ModelUnavailable(f"could not download {src.repo_id}@{src.revision}: {_one_line(err)}") from err
    if "model.safetensors" in files and not (path / "model.safetensors").is_file():
        raise ModelError(f"{src.repo_id}@{src.revision} has no model.safetensors (figgen loads safetensors only)")
    return path


def hub_reachable(timeout: float = PROBE_TIMEOUT) -> bool:
    """True if a TCP connection to the hub endpoint opens within `timeout` seconds.

    Name resolution has no timeout of its own, so the probe runs in a daemon thread.
    """
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host, port = url.hostname, url.port or (443 if url.scheme == "https" else 80)
    ok: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            ok.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(ok)


# --- local directories ----------------------------------------------------------------------------


def _load_dir(path: Path, *, device: str):
    """Load config, weights and tokenizer from a directory in HF format (the one loading path)."""
    cfg = _read_config(path)
    if not (path / "model.safetensors").is_file():
        raise ModelError(f"{path} has no model.safetensors (figgen loads safetensors only, never pickles)")
    tokenizer = _load_tokenizer(path)
    _check_bos(cfg, tokenizer, path)  # before the weights: a bad config fails in a second

    import torch

    with _quiet_transformers():
        from transformers import GPT2LMHeadModel
    try:
        hf = GPT2LMHeadModel.from_pretrained(
            path, use_safetensors=True, trust_remote_code=False, dtype=torch.float32
        )
    except Exception as err:
        raise ModelError(f"could not load the model in {path}: {_one_line(err)}") from err
    hf.to(device).eval()
    return hf, tokenizer


def _read_config(path: Path) -> ConfigHeader:
    """Check that `path` holds a GPT-2 config.json and read its header, without transformers."""
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ModelError(f"{path} is not a Hugging Face model directory (no config.json)")
    try:
        config = json.loads(config_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelError(f"{config_file} is not valid JSON: {_one_line(err)}") from err
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if model_type != "gpt2":
        raise ModelError(f"{path} holds a {model_type or 'unknown'!r} model; figgen supports GPT-2 models only")
    default = ConfigHeader()
    return ConfigHeader(
        # GPT2Config reads max_position_embeddings as an alias of n_positions
        n_positions=config.get("n_positions", config.get("max_position_embeddings", default.n_positions)),
        vocab_size=config.get("vocab_size", default.vocab_size),
        bos_token_id=config.get("bos_token_id", default.bos_token_id),
    )


#: tokenizer_config.json's tokenizer_class → the class AutoTokenizer picks for a GPT-2 model
#: (transformers 5), imported without AutoTokenizer: its config machinery imports torch (3-5 s).
_TOKENIZER_CLASSES = {
    None: ("transformers.models.gpt2.tokenization_gpt2", "GPT2Tokenizer"),
    "GPT2Tokenizer": ("transformers.models.gpt2.tokenization_gpt2", "GPT2Tokenizer"),
    "GPT2TokenizerFast": ("transformers.models.gpt2.tokenization_gpt2", "GPT2Tokenizer"),
    "PreTrainedTokenizerFast": ("transformers.tokenization_utils_tokenizers", "TokenizersBackend"),
    "TokenizersBackend": ("transformers.tokenization_utils_tokenizers", "TokenizersBackend"),
}


def _load_tokenizer(path: Path):
    """The tokenizer in `path`, of the class AutoTokenizer would choose (any other class: AutoTokenizer).

    `load_model` and `check_prompt` both load it here, so both tokenize a prompt the same way."""
    import importlib

    try:
        declared = json.loads((path / "tokenizer_config.json").read_text()).get("tokenizer_class")
    except (OSError, ValueError, AttributeError):
        declared = None
    module, cls = _TOKENIZER_CLASSES.get(declared, ("transformers", "AutoTokenizer"))
    try:
        with _quiet_transformers():
            tokenizer_class = getattr(importlib.import_module(module), cls)
        return tokenizer_class.from_pretrained(path, trust_remote_code=False)
    except Exception as err:
        raise ModelError(f"could not load the tokenizer in {path}: {_one_line(err)}") from err


@contextmanager
def _quiet_transformers():
    """Import transformers without the noise it makes in notebooks and progress output."""
    with warnings.catch_warnings():
        # In a notebook kernel without ipywidgets, importing the hub client's tqdm.auto warns
        # "IProgress not found" into every executed notebook; loading shows no bar anyway.
        warnings.filterwarnings("ignore", message="IProgress not found")
        yield
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # loading is fast; its bar would clutter every command's output


def _content_hash(file: Path) -> str:
    h = hashlib.sha256()
    with file.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text[:300] or type(err).__name__
