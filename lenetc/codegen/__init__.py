"""From a model to C: ``plan`` lowers layers to kernels and places buffers; ``render`` writes C;
``artifact`` bundles the result (:class:`Generated`) for everything downstream."""

from .artifact import Generated, MemoryReport, Symbols, generated
from .plan import Plan, make_plan
from .render import render

__all__ = ["Generated", "MemoryReport", "Plan", "Symbols", "generated", "make_plan", "render"]
