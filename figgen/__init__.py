"""figgen: A Vector-Level View of GPT-2, computed.

model → trace → analysis → figures → build → site. The public API is three functions:
`load_model`, `trace` and `build`.
"""

__version__ = "0.1.0"

from .build import build  # noqa: E402
from .errors import FiggenError  # noqa: E402
from .model import Model, load_model  # noqa: E402
from .trace import Trace, trace  # noqa: E402
__all__ = ["FiggenError", "build", "Model", "Trace", "__version__", "load_model", "trace"]
