"""From a Network to C: ``plan`` lowers layers to kernels and places buffers; ``render`` writes C."""

from .plan import Plan, make_plan
from .render import generate, render

__all__ = ["Plan", "make_plan", "render", "generate"]
