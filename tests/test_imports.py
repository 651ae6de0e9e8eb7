"""No import cycle between docqa's modules, counting imports inside functions too.

A cycle that only runs inside a function works today and breaks the day someone moves that
import to the top of its file; the rooms of docs/architecture.md depend on each other one way.
The graph is read from the source (AST), so the test needs no model and imports nothing.
"""
from __future__ import annotations

import ast
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
PACKAGES = {"docqa": "docqa", "docqa.ingest": "ingest", "docqa.index": "index", "docqa.service": "service",
            "docqa.corpus": "corpus"}
"""Each subpackage and its folder (pyproject.toml's package-dir)."""


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        root = CHECKOUT / folder
        for path in root.rglob("*.py"):
            rel = path.relative_to(root).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"] if rel.name == "__init__" else list(rel.parts)
            name = ".".join([package, *parts])
            if package == "docqa" and parts and f"docqa.{parts[0]}" in PACKAGES:
                continue  # docqa/ holds only its own modules
            found[name] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The docqa modules `name` imports anywhere in its file (module level, functions, TYPE_CHECKING)."""
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if is_package else name.split(".")[:-1]
                here = here[:len(here) - node.level + 1]
                base = ".".join(here + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph`, as the modules along it, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("import docqa.b\n")
    b.write_text("def f():\n    from docqa import a\n")
    known = {"docqa.a": a, "docqa.b": b}
    graph = {n: imports(n, p, known) for n, p in known.items()}
    assert cycle(graph) == ["docqa.a", "docqa.b", "docqa.a"]


def test_no_module_of_docqa_imports_itself_through_others():
    known = modules()
    assert "docqa.index.embedding.engines.choice" in known and "docqa.service.cli" in known
    graph = {n: imports(n, p, known) for n, p in known.items()}
    found = cycle(graph)
    assert found is None, "import cycle: " + " -> ".join(found)


ENVIRONMENT = """
import importlib, json, os, sys
before = dict(os.environ)
for name in sys.argv[1:]:
    importlib.import_module(name)
after = dict(os.environ)
print(json.dumps({k: [before.get(k), after.get(k)] for k in set(before) | set(after) if before.get(k) != after.get(k)}))
"""


def test_importing_docqa_leaves_the_process_environment_alone():
    """Every module of docqa imports without writing the process's environment (a library's
    import must not change how the user's other libraries run, nor what its children inherit);
    the `docqa` command sets what it needs at its start."""
    import json
    import os
    import subprocess
    import sys

    names = sorted(n for n in modules() if not n.endswith("__main__"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "HF_", "TOKENIZERS_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")]))
    run = subprocess.run([sys.executable, "-c", ENVIRONMENT, *names], cwd=CHECKOUT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1]) == {}
