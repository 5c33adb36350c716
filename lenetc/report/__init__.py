"""``lenetc report``: one HTML page about a model, every number on it measured by lenetc."""

from .collect import Accuracy, ModelReport, TargetFigures, build_report
from .html import render_html

__all__ = ["Accuracy", "ModelReport", "TargetFigures", "build_report", "render_html"]
