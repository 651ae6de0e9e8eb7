"""Where an index lives: the store protocol, its parts (dense vectors, keyword index and its
tokenizer, sentences, hubness), the directory store with its ownership, lock and swap rules,
the Milvus store, and the shelf that adds and removes documents.
"""
