"""Why bytes were refused. Each message is meant for the user who sent them."""


class PipelineError(Exception):
    pass


class ImageRejected(PipelineError):
    """The content is not acceptable (format mismatch, unsafe, too big virtually…)."""


class TooLarge(PipelineError):
    """More bytes than the per-image cap or the declared size."""


class QuotaExceeded(PipelineError):
    pass


class TransferError(PipelineError):
    """The bytes did not arrive as announced (short body, size mismatch, remote failure)."""


class Cancelled(PipelineError):
    """The work was stopped on purpose (an abort, a delete, a lost lease), not refused."""
