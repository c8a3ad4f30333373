"""Systems under test shipped with mlmeter, including public test doubles."""

from mlmeter.suts._fixed import FixedLatencySUT
from mlmeter.suts._null import NullSUT
from mlmeter.suts._qsl import NullQSL
from mlmeter.suts._recording import RecordingQSL, RecordingSUT

__all__ = ["FixedLatencySUT", "NullQSL", "NullSUT", "RecordingQSL", "RecordingSUT"]
