"""Text to vectors: the embedder face, the question batcher, the embedding cache and
the token batches of a build; `model/` rebuilds the bundled model, `engines/` runs it.
"""
