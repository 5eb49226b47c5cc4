"""A GPT-2-style byte-level BPE trained on the mini corpus (Ġ for spaces, <|endoftext|> as BOS/EOS)."""

from __future__ import annotations

EOT = "<|endoftext|>"


def train_tokenizer(docs: list[str], vocab_size: int = 2048):
    """Train the BPE and wrap it as a transformers `GPT2TokenizerFast` (saved as tokenizer.json)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2TokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)  # as GPT-2: no added space
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # all 256 bytes: any text encodes
        show_progress=False,
    )
    tok.train_from_iterator(docs, trainer)
    # Built from the tokenizer object: in transformers 5, vocab/merges file arguments give an empty one.
    return GPT2TokenizerFast(tokenizer_object=tok, bos_token=EOT, eos_token=EOT, unk_token=EOT)
