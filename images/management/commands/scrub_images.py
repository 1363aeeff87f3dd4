"""Run the scrubber's check now, in this process: the images that are due (as a round of the
periodic task would), or the images named, however recently they were checked. Prints the report
as JSON."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand

from images import integrity


class Command(BaseCommand):
    help = "Re-hash stored images against their os_hash_value and mark the corrupt ones."

    def add_arguments(self, parser):
        parser.add_argument("image_ids", nargs="*", help="Check these images now.")
        parser.add_argument(
            "--limit", type=int, default=None, help="At most this many due images (default: a round's)."
        )
        parser.add_argument(
            "--rate",
            type=int,
            default=None,
            help="Bytes a second to read at most, 0: no limit (default: the scrubber's setting)",
        )

    def handle(self, *args, image_ids, limit, rate, **options):
        throttle = integrity.Throttle(settings.IMAGE_SCRUB_BYTES_PER_SECOND if rate is None else rate)
        report = integrity.scrub(
            limit=None if image_ids else (limit or settings.IMAGE_SCRUB_IMAGES_PER_RUN),
            image_ids=image_ids or None,
            throttle=throttle,
        )
        self.stdout.write(json.dumps(report.as_dict()))
