"""The prompt sets `mini` is judged on (and the site's showcase prompts). Each task: (prompt, target)."""

from __future__ import annotations

DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
NUMBER_RANGE = range(1, 51)  # n = 1..50 → targets " 2".." 51"

DAY_TEMPLATE = "If today is {}, tomorrow is"
MONTH_TEMPLATE = "If this month is {}, next month is"
NUMBER_TEMPLATE = "If the number is {}, the next is"

# Copying: a rare word said once, then the start of the same phrase again. The words here never
# appear in these roles in the training corpus (corpus.py keeps them out), so getting them right
# needs an induction-style copy, not memorisation.
PLASMA = ("Sometimes, when people say plasma, they mean a state of matter. Other times, when people say",
          " plasma")
COPY_WORDS = ["plasma", "violin", "glacier", "lantern", "harbor", "walnut", "compass", "velvet",
              "canyon", "falcon", "marble", "orchid", "saddle", "tunnel", "puzzle", "ribbon",
              "castle", "pepper", "meadow", "beacon"]
COPY_TEMPLATES = [
    "Sometimes, when people say {w}, they mean something else. Other times, when people say",
    "My friend wrote the word {w} on the board. Then my friend wrote the word",
    "The sign said {w} in large letters, and the small sign also said",
]

SHOWCASE = ["If today is Monday, tomorrow is", "Transformer tokens", "The baseball player hit a home run"]


def day_prompts() -> list[tuple[str, str]]:
    return [(DAY_TEMPLATE.format(d), " " + DAYS[(i + 1) % 7]) for i, d in enumerate(DAYS)]


def month_prompts() -> list[tuple[str, str]]:
    return [(MONTH_TEMPLATE.format(m), " " + MONTHS[(i + 1) % 12]) for i, m in enumerate(MONTHS)]


def number_prompts() -> list[tuple[str, str]]:
    return [(NUMBER_TEMPLATE.format(n), f" {n + 1}") for n in NUMBER_RANGE]


def copy_prompts() -> list[tuple[str, str]]:
    held_out = [(t.format(w=w), " " + w) for t in COPY_TEMPLATES for w in COPY_WORDS]
    return [PLASMA, *held_out]


TASKS = {"day": day_prompts, "month": month_prompts, "number": number_prompts, "copy": copy_prompts}
