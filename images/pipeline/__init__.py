"""The one import pipeline every path into the service uses: stream → hash → inspect → verify →
(convert) → store. Nothing here holds a whole image in memory."""

from images.pipeline.errors import ImageRejected, QuotaExceeded, TooLarge, TransferError

__all__ = ["ImageRejected", "QuotaExceeded", "TooLarge", "TransferError"]
