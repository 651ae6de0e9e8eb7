"""Indexing and search: the rooms `embedding/`, `store/`, `search/` and `answer/`, and at this
root the records they share (docs/architecture.md). Importing it changes nothing in the process:
the `docqa` command sets what the process's threads need (`service/cli.py`, `passive_openmp`).
"""
