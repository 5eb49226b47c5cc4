"""Analyses over a trace and the weights: numpy in, small numpy dataclasses out (shapes in docstrings).

Analyses never import matplotlib or altair, so figures can be tested on hand-built arrays.
"""
