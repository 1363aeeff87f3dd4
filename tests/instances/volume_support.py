"""Helpers for volume tests: a Cinder API caller and a runner for the tasks a request enqueued."""

from __future__ import annotations

from instances import tasks


class VolumeCaller:
    def __init__(self, caller):
        self.caller = caller
        self.base = f"/volume/v3/{caller.project.pk}"

    def _headers(self, extra: dict) -> dict:
        return {"HTTP_X_AUTH_TOKEN": self.caller.token, "HTTP_OPENSTACK_API_VERSION": "volume 3.71", **extra}

    def get(self, path: str, **extra):
        return self.caller.client.get(f"{self.base}{path}", **self._headers(extra))

    def post(self, path: str, body, **extra):
        return self.caller.client.post(
            f"{self.base}{path}", body, content_type="application/json", **self._headers(extra)
        )

    def put(self, path: str, body, **extra):
        return self.caller.client.put(
            f"{self.base}{path}", body, content_type="application/json", **self._headers(extra)
        )

    def delete(self, path: str, **extra):
        return self.caller.client.delete(f"{self.base}{path}", **self._headers(extra))


class Run:
    """Runs what requests enqueued, as the worker (default queue) and the hosts' agents would,
    including tasks those tasks enqueue, until nothing is left."""

    def __init__(self, capture, *managers):
        self.capture = capture
        self.managers = {m.host_name: m for m in managers}
        self.ran: list[str] = []

    def __call__(self, callbacks) -> list[str]:

        pending = list(callbacks)
        while pending:
            with self.capture() as more:
                for callback in pending:
                    name, args, queue = (
                        callback.args[0],
                        callback.keywords["args"],
                        callback.keywords["queue"],
                    )
                    method = name.removeprefix("instances.")
                    if queue == "default":
                        getattr(tasks, method)(*args)
                    else:
                        getattr(self.managers[queue.removeprefix("compute.")], method)(*args)
                    self.ran.append(name)
            pending = list(more)
        return self.ran
