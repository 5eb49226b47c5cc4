"""How well `mini` does its tasks: top-1 accuracy and mean probability of the right next token."""

from __future__ import annotations

from .prompts import TASKS


def next_token_probs(hf, tokenizer, prompt: str):
    """Probabilities of the next token after `prompt`, with <|endoftext|> prepended (as figgen.trace)."""
    import torch

    ids = [tokenizer.bos_token_id, *tokenizer(prompt, add_special_tokens=False)["input_ids"]]
    with torch.no_grad():
        logits = hf(torch.tensor([ids])).logits[0, -1]
    return logits.softmax(-1)


def evaluate(hf, tokenizer) -> dict:
    """{task: {"accuracy", "mean_prob", "n", "items": [{prompt, target, predicted, prob}]}}.

    A target counts by its first token (all of mini's targets are single tokens)."""
    report = {}
    for task, make in TASKS.items():
        items = []
        for prompt, target in make():
            probs = next_token_probs(hf, tokenizer, prompt)
            target_id = tokenizer(target, add_special_tokens=False)["input_ids"][0]
            top = int(probs.argmax())
            items.append({"prompt": prompt, "target": target, "predicted": tokenizer.decode([top]),
                          "correct": top == target_id, "prob": float(probs[target_id])})
        report[task] = {
            "n": len(items),
            "accuracy": sum(i["correct"] for i in items) / len(items),
            "mean_prob": sum(i["prob"] for i in items) / len(items),
            "items": items,
        }
    return report


def format_report(report: dict) -> str:
    lines = [f"{'task':<8} {'top-1':>8} {'mean p':>8}   n"]
    for task, r in report.items():
        lines.append(f"{task:<8} {r['accuracy']:>8.1%} {r['mean_prob']:>8.3f}   {r['n']}")
    misses = [i for r in report.values() for i in r["items"] if not i["correct"]]
    for i in misses[:10]:
        lines.append(f"  miss: {i['prompt']!r} → {i['predicted']!r} (want {i['target']!r}, p={i['prob']:.2f})")
    return "\n".join(lines)
