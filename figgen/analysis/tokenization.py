"""How the tokenizer builds tokens: byte-level BPE replayed from the tokenizer's own merge ranks, and the
text a byte-level piece stands for (GPT-2 stores bytes as printable stand-ins: a space as "Ġ")."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class MergeSteps:
    """BPE applied to one pre-token (a word with its leading space shown as Ġ).

    parts[i]: the pieces after i merges (parts[0] are single byte-level characters).
    merged[i]: the pair joined to go from parts[i] to parts[i + 1], and ranks[i] its merge rank
    (lower = learned earlier = applied first).
    """

    word: str
    parts: list[list[str]]
    merged: list[tuple[str, str]]
    ranks: list[int]


def byte_chars() -> dict[int, str]:
    """GPT-2's byte → stand-in character map (OpenAI's `bytes_to_unicode`): printable ASCII and Latin-1
    bytes stand for themselves; the others (space, control bytes, …) move to U+0100 onwards, so the
    space byte 0x20 is stored as "Ġ" (U+0120)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


_BYTE_OF = {c: b for b, c in byte_chars().items()}


def piece_text(piece: str) -> str:
    """The text a byte-level piece stands for ("Ġtoday" → " today"). A piece that ends inside a
    multi-byte UTF-8 character shows its loose bytes as \\x.. escapes."""
    raw = b"".join(bytes([_BYTE_OF[c]]) if c in _BYTE_OF else c.encode() for c in piece)
    return raw.decode("utf-8", errors="backslashreplace")


def merge_ranks(tokenizer) -> dict[tuple[str, str], int]:
    """(left, right) → rank, read from the fast tokenizer's serialized BPE model."""
    model = json.loads(tokenizer.backend_tokenizer.to_str())["model"]
    ranks = {}
    for i, merge in enumerate(model.get("merges", [])):
        left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
        ranks[(left, right)] = i
    return ranks


def pre_tokens(tokenizer, text: str) -> list[str]:
    """The prompt split the way BPE sees it, before merging ('ĠMonday', ',', ...)."""
    pre = tokenizer.backend_tokenizer.pre_tokenizer
    return [piece for piece, _ in pre.pre_tokenize_str(text)] if pre is not None else text.split()


def bpe(word: str, ranks: dict[tuple[str, str], int]) -> MergeSteps:
    """Replay BPE on `word`: repeatedly join the adjacent pair with the lowest rank."""
    parts = list(word)
    history, merged, used = [list(parts)], [], []
    while len(parts) > 1:
        candidates = [(ranks[(a, b)], i) for i, (a, b) in enumerate(zip(parts, parts[1:])) if (a, b) in ranks]
        if not candidates:
            break
        rank, i = min(candidates)
        merged.append((parts[i], parts[i + 1]))
        used.append(rank)
        parts = parts[:i] + [parts[i] + parts[i + 1]] + parts[i + 2:]
        history.append(list(parts))
    return MergeSteps(word, history, merged, used)


def most_merged_word(tokenizer, text: str) -> MergeSteps:
    """The pre-token of `text` whose BPE takes the most merges (ties: the first)."""
    ranks = merge_ranks(tokenizer)
    steps = [bpe(w, ranks) for w in pre_tokens(tokenizer, text)]
    if not steps:
        return bpe("", ranks)
    return max(steps, key=lambda s: (len(s.merged), -steps.index(s)))
