"""Errors of the compute agent."""


class BuildAbort(Exception):
    """The build cannot succeed (image gone or not active, boot volume not made); the instance goes
    to ERROR."""
