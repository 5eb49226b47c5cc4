"""Figures: one module per infographic section, each registering small figure functions.

Figures turn analysis results into matplotlib/altair objects; they never import torch.
"""

from .registry import REGISTRY, Figure, FigureSpec, figure, load_all

__all__ = ["REGISTRY", "Figure", "FigureSpec", "figure", "load_all"]
