"""Exporters: lenetc networks -> other formats (ONNX)."""
