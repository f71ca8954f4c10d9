"""Request logs in ``zeroserve up`` (config-observability's ``logging.*`` keys, :mod:`zeroserve.queue.requestlog`).

Where a user finds them: in the instance's queue-proxy log, as in Knative (``kubectl logs POD -c
queue-proxy``), i.e. ``DATA/queue-proxy-logs/NS/REVISION/POD.log``:

* inline mode (the default): no sidecar runs, so the gateway and the in-process activator write the
  lines of each instance's requests to that file themselves (:class:`RequestLogWiring`). The
  configuration is live: turning request logs on or off, or a new template, takes effect at once;
* sidecar mode: each queue-proxy writes them to its stdout, which the runtime keeps in that file;
  the settings reach it in ``OBSERVABILITY_CONFIG`` when it starts (:func:`observability_fields`), so
  running instances keep the settings they started with, as a pod keeps its environment.

While request logs are off the gateway and the activator hold no request-log object: one ``is
None`` check per request.
"""

from __future__ import annotations

import logging
from pathlib import Path

from zeroserve.activator.handler import Activator
from zeroserve.config import Config
from zeroserve.gateway.server import Gateway
from zeroserve.gateway.workers import Workers
from zeroserve.queue.requestlog import InstanceLogs, RequestLog, RequestLogSettings, RevisionInfo, SinkFile
from zeroserve.runtime import logs
from zeroserve.runtime.base import WorkloadKey
from zeroserve.runtime.local import LOGS_KEPT_PER_REVISION, LocalRuntime

log = logging.getLogger(__name__)

QUEUE_PROXY_LOGS = "queue-proxy-logs"


def observability_fields(cfg: Config) -> dict[str, object]:
    """The request-log members of a sidecar's ``OBSERVABILITY_CONFIG`` (Knative's JSON keys)."""
    return RequestLogSettings.of(cfg.observability).json_fields()


class RequestLogWiring:
    """The inline queue-proxies' request logs: on or off with the configuration, one file per instance."""

    def __init__(
        self,
        data_dir: Path,
        runtime: LocalRuntime,
        gateway: Gateway,
        activator: Activator,
        mirror: Workers | None = None,
    ) -> None:
        """``mirror``: the gateway workers, told the settings and each revision's instances too
        (each writes the lines of the requests it served to the same files)."""
        self._mirror = mirror
        self._dir = data_dir / QUEUE_PROXY_LOGS
        self._runtime = runtime
        self._gateway = gateway
        self._activator = activator
        self._log = RequestLog()
        self._logs: InstanceLogs | None = None

    def configure(self, cfg: Config) -> None:
        """Apply config-observability (a template that does not parse was refused with the config)."""
        settings = RequestLogSettings.of(cfg.observability)
        try:
            self._log.configure(settings)
        except ValueError as err:  # parse_config validates it: not expected here
            log.error("request logs: %s; keeping the previous settings", err)
            return
        if self._mirror is not None:  # first: the instances follow
            self._mirror.configure_logs(settings if self._log.enabled else None)
        if self._log.enabled and self._logs is None:
            self._logs = InstanceLogs(self._log, self._open)
            running = self._runtime.keys()
            for key in running:
                self.endpoints_changed(key)
        elif not self._log.enabled and self._logs is not None:
            self._logs.close()
            self._logs = None
        self._gateway.request_logs = self._activator.request_logs = self._logs

    def endpoints_changed(self, key: WorkloadKey) -> None:
        if self._logs is None or key.kind != "Revision":
            return
        workload = self._runtime.workload(key)
        names = self._runtime.instance_names(key)
        service = workload.service if workload is not None else ""
        configuration = workload.configuration if workload is not None else ""
        infos = {
            address: RevisionInfo(key.revision, key.namespace, service, configuration, name, address[0])
            for address, name in names.items()
        }
        self._logs.set_instances(key.namespace, key.revision, infos)
        if self._mirror is not None:
            self._mirror.set_log_instances(key.namespace, key.revision, infos)

    def _open(self, info: RevisionInfo) -> SinkFile:
        directory = self._dir / info.namespace / info.name
        logs.prune(directory, keep=LOGS_KEPT_PER_REVISION)
        return logs.LogFile(directory / f"{info.pod_name}.log")

    def close(self) -> None:
        if self._logs is not None:
            self._logs.close()
            self._logs = None


__all__ = ["QUEUE_PROXY_LOGS", "RequestLogWiring", "observability_fields"]
