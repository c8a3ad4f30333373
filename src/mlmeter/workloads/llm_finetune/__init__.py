"""LLM fine-tuning (MLPerf llama2_70b_lora): LoRA on SmolLM2-135M to an eval-loss target.

Importing this package is cheap (no torch, no transformers); the model loads in
``LlmFinetuneTraining.build``.
"""

from mlmeter.workloads.llm_finetune._training import LlmFinetuneTraining

__all__ = ["LlmFinetuneTraining"]
