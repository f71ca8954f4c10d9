"""``get -o``: kubectl's output formats, and the root cause beside a Service's REASON.

``-o table`` (the default), ``wide`` (the server's Table with its priority columns), ``name``
(``service.serving.knative.dev/hello``), ``json``, ``yaml`` and ``jsonpath=TEMPLATE``
(:mod:`zeroserve.cli.jsonpath_template`).

Knative's Service and Configuration say ``RevisionMissing`` or ``RevisionFailed`` when their latest
revision does not come up; why it does not (``ExitCode3``, ``ContainerMissing``,
``CreateContainerConfigError``) is on the Revision. A table shows that reason in the REASON column
too, ``RevisionMissing (ExitCode3)``, read at print time from the latest created Revision: the
objects' status, which kubectl and every client read, stays Knative's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from zeroserve import errors
from zeroserve.api import jsonpath, kinds
from zeroserve.api.base import Obj
from zeroserve.api.kinds import Kind
from zeroserve.cli import output
from zeroserve.cli.client import ApiClient
from zeroserve.cli.jsonpath_template import Template
from zeroserve.cli.jsonpath_template import parse as parse_template

Format = Literal["table", "wide", "name", "json", "yaml", "jsonpath"]
FORMATS: Final = ("json", "jsonpath", "name", "wide", "yaml")
OUTPUT_HELP: Final = "Output format: wide, name, json, yaml or jsonpath=TEMPLATE (default: a table)."


@dataclass(frozen=True)
class Output:
    """A parsed ``-o``."""

    format: Format
    template: Template | None = None

    def document(self, objs: Sequence[Obj], kind: Kind, single: bool, show_managed_fields: bool) -> str:
        """``objs`` in a non-table format: one object when ``single``, else a ``List`` (kubectl's)."""
        if self.format == "name":
            return "\n".join(name_of(kind, o) for o in objs)
        if self.format == "jsonpath":
            assert self.template is not None
            doc = objs[0] if single and len(objs) == 1 else {"apiVersion": "v1", "kind": "List", "items": list(objs)}
            try:
                return self.template.render(doc)
            except jsonpath.JSONPathError as e:
                raise errors.BadRequest(f"error executing jsonpath {self.template.source!r}: {e}") from None
        fmt: output.OutputFormat = "json" if self.format == "json" else "yaml"
        return output.document(objs, kind, fmt, single=single, show_managed_fields=show_managed_fields)


def parse_output(value: str) -> Output:
    """``-o`` as kubectl reads it; BadRequest naming the formats for anything else."""
    if value in ("", "table"):
        return Output("table")
    if value.startswith("jsonpath="):
        try:
            return Output("jsonpath", parse_template(value.removeprefix("jsonpath=")))
        except jsonpath.JSONPathError as e:
            raise errors.BadRequest(f"error parsing jsonpath {value.removeprefix('jsonpath=')!r}: {e}") from None
    if value == "jsonpath":
        raise errors.BadRequest("template format specified but no template given: -o jsonpath=TEMPLATE")
    for known in FORMATS:
        if value == known:
            return Output(known)
    raise errors.BadRequest(
        f'unable to match a printer suitable for the output format "{value}", allowed formats are: ' + ",".join(FORMATS)
    )


def name_of(kind: Kind, obj: Obj) -> str:
    """kubectl's ``-o name``: ``service.serving.knative.dev/hello``, ``secret/db``."""
    singular = kind.kind.lower()
    qualified = f"{singular}.{kind.group}" if kind.group else singular
    return f"{qualified}/{obj.get('metadata', {}).get('name', '')}"


# -- root causes -----------------------------------------------------------------------------------

ROOT_CAUSE_KINDS: Final = frozenset({kinds.SERVICE.plural, kinds.CONFIGURATION.plural})


def root_cause(obj: Obj, revision: Obj | None) -> str:
    """Why ``obj`` (a Service or Configuration) is not Ready, as its latest created ``revision``
    says it (its Ready condition's reason when False); empty when that adds nothing."""
    ready = output.condition(obj, "Ready")
    if ready.get("status") == "True" or revision is None:
        return ""
    rev_ready = output.condition(revision, "Ready")
    reason = str(rev_ready.get("reason") or "")
    if rev_ready.get("status") != "False" or not reason or reason == ready.get("reason"):
        return ""
    return reason


def with_cause(reason: str, cause: str) -> str:
    """The REASON cell: Knative's reason, the root cause beside it."""
    if not cause:
        return reason
    return f"{reason} ({cause})" if reason else cause


def latest_revision(client: ApiClient, obj: Obj) -> Obj | None:
    """The Revision ``status.latestCreatedRevisionName`` names, if it can be read; only asked for
    an object that is not Ready."""
    if output.condition(obj, "Ready").get("status") == "True":
        return None
    name = str(obj.get("status", {}).get("latestCreatedRevisionName") or "")
    if not name:
        return None
    try:
        return client.get(kinds.REVISION, str(obj["metadata"].get("namespace") or "default"), name)
    except errors.ZeroserveError:
        return None


def root_causes(client: ApiClient, kind: Kind, objs: Sequence[Obj]) -> list[str]:
    """:func:`root_cause` of each of ``objs`` (empty strings for kinds that have none)."""
    if kind.plural not in ROOT_CAUSE_KINDS:
        return ["" for _ in objs]
    return [root_cause(o, latest_revision(client, o)) for o in objs]
