"""Recommendation (MLPerf dlrm-v2): a mini-DLRM on Criteo-format click logs, scored by AUC."""

from mlmeter.workloads.recommendation._auc import roc_auc
from mlmeter.workloads.recommendation._workload import Recommendation

__all__ = ["Recommendation", "roc_auc"]
