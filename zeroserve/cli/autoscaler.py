"""``zeroserve autoscaler explain REVISION [-n NS]``: why a revision has the scale it has.

Reads the revision's ``autoscaler`` subresource (``zeroserve.autoscaler.explain.explain_document``)
and prints the decider's state and its last ticks, newest last: observed stable/panic load, target,
ready and desired instances, panic mode, excess burst capacity and the reasons.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from zeroserve.api.autoscaling import SCALE_REASON
from zeroserve.api.kinds import PODAUTOSCALER, REVISION
from zeroserve.cli import output
from zeroserve.cli.context import Context
from zeroserve.errors import NotFound

autoscaler_app = typer.Typer(help="Inspect the autoscaler's decisions.", no_args_is_help=True)

NsOpt = Annotated[str, typer.Option("--namespace", "-n", help="Namespace.")]
TICK_HEADERS = ("TIME", "STABLE", "PANIC", "TARGET", "READY", "DESIRED", "PANIC-MODE", "EBC", "REASONS")


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def tick_row(tick: dict[str, Any]) -> list[str]:
    reasons = ", ".join(tick.get("reasons") or [])
    if not tick.get("valid", True):
        reasons = "invalid" + (f": {reasons}" if reasons else "")
    return [
        str(tick.get("time", "")),
        _num(tick.get("observedStable")),
        _num(tick.get("observedPanic")),
        _num(tick.get("target")),
        _num(tick.get("ready")),
        _num(tick.get("desired")),
        "yes" if tick.get("panicMode") else "no",
        _num(tick.get("excessBurstCapacity")),
        reasons or "-",
    ]


def render(doc: dict[str, Any]) -> str:
    """The explain document as text: a header, then one line per tick."""
    ticks = doc.get("ticks") or []
    metric = ticks[-1].get("metric", "") if ticks else ""
    head = [
        f"Revision:       {doc.get('namespace')}/{doc.get('revision')}",
        f"Class:          {doc.get('class')}" + (f" (metric {metric})" if metric else ""),
        f"Desired scale:  {doc.get('desiredScale')}",
        f"Excess burst:   {doc.get('excessBurstCapacity')}",
        f"Panic mode:     {'yes' if doc.get('panicMode') else 'no'}",
        f"Why:            {doc.get('summary')}",
    ]
    if "sksMode" in doc:
        head.append(f"SKS mode:       {doc['sksMode']}")
    if "appliedScale" in doc:
        applied = f"Applied scale:  {doc['appliedScale']}"
        head.append(applied + (f" ({doc['scaleReason']})" if doc.get("scaleReason") else ""))
    if not ticks:
        return "\n".join([*head, "", "No ticks yet."])
    return "\n".join([*head, "", output.table(TICK_HEADERS, [tick_row(t) for t in ticks])])


@autoscaler_app.command("explain")
def explain(ctx: typer.Context, revision: str, namespace: NsOpt = "default") -> None:
    """Show the last decisions of REVISION's autoscaler and the reasons for them."""
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    client = obj.client()
    doc = client.subresource(REVISION, namespace, revision, "autoscaler")
    try:  # what the KPA made of the decision: bounds and scale-to-zero gating
        pa = client.get(PODAUTOSCALER, namespace, revision).get("status", {})
    except NotFound:
        pa = {}
    if "appliedScale" in pa:
        doc["appliedScale"] = pa["appliedScale"]
        doc["scaleReason"] = (pa.get("annotations") or {}).get(SCALE_REASON, "")
    print(render(doc))
