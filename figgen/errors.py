"""User-facing errors.

Everything a user can cause (a bad prompt, an unknown model, a missing download, a corrupt cache)
raises a `FiggenError` whose message is one line saying what is wrong and what to do. The CLI and
the MkDocs plugin print that line instead of a traceback.
"""


class FiggenError(Exception):
    """A problem the user can fix; `str(err)` is a one-line explanation."""


class ModelError(FiggenError, ValueError):
    """The model name, its files or its architecture are not usable."""


class ModelUnavailable(ModelError):
    """The model is neither in the local cache nor downloadable right now."""


class PromptError(FiggenError, ValueError):
    """The prompt cannot be traced (empty, too long, not a string)."""
