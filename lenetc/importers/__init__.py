"""Importers: ONNX and Keras files -> :class:`lenetc.network.Network`."""
