"""figgen: A Vector-Level View of GPT-2, computed.

model → trace → analysis → figures → build → site. The public API is three functions:
`load_model`, `trace` and `build` (the last arrives with the build pipeline).
"""

from .errors import FiggenError
from .model import Model, load_model
from .trace import Trace, trace

__version__ = "0.1.0"
__all__ = ["FiggenError", "Model", "Trace", "__version__", "load_model", "trace"]
