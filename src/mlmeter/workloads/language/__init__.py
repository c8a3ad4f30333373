"""The language workload: BERT question answering on SQuAD v1.1 (MLPerf ``bert``).

CI runs the MiniLM-L6 encoder with a seeded QA head on a generated SQuAD-format set;
``--data-dir`` (with ``dev-v1.1.json``) and ``--model-path`` (a transformers QA
directory or an ONNX file) run the real benchmark with the same code.
"""

from mlmeter.workloads.language._workload import Language

__all__ = ["Language"]
