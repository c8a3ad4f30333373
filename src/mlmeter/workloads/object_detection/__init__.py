"""Object detection: MTCNN faces scored by COCO mAP, standing in for MLPerf's RetinaNet."""

from mlmeter.workloads.object_detection._workload import ObjectDetection

__all__ = ["ObjectDetection"]
