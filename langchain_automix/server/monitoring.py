"""Operator routes: ``GET /metrics``, ``GET /automix/policy``, ``POST /automix/feedback``.

* ``/metrics``: Prometheus text exposition of
  :class:`~langchain_automix.observability.metrics.AutoMixMetrics` (every worker's,
  merged, in multiprocess mode).
* ``/automix/policy``: the served meta-verifier, its provenance (what it was fitted
  on) and the drift monitor's status (is today's traffic still what it was fitted on?).
* ``/automix/feedback``: ``{"id": ..., "score": 0..1}`` stores a user's score for a
  served query in the trace log's feedback file (only with a trace log). The id is the
  LangServe response's ``metadata.run_id`` or the OpenAI route's completion id.

All of them sit behind the API key when one is set; the feedback route is rate-limited
and size-limited like every POST (it calls no model, so it costs no budget).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from langchain_automix.server.responses import error_response

if TYPE_CHECKING:
    from langchain_automix.calibration.drift import DriftMonitor
    from langchain_automix.meta_verifiers.base import MetaVerifier
    from langchain_automix.observability.metrics import AutoMixMetrics
    from langchain_automix.observability.trace_log import TraceLog

__all__ = ["FEEDBACK_PATH", "METRICS_PATH", "POLICY_PATH", "Feedback", "build_monitoring_router"]

METRICS_PATH = "/metrics"
POLICY_PATH = "/automix/policy"
FEEDBACK_PATH = "/automix/feedback"


class Feedback(BaseModel):
    """A user's score for one served query."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="The query's id: LangServe's metadata.run_id or the completion id.",
    )
    score: float = Field(ge=0.0, le=1.0, description="Quality of the answer, 0 (wrong) to 1.")
    comment: str | None = Field(default=None, max_length=2000)


def build_monitoring_router(
    *,
    metrics: AutoMixMetrics | None,
    trace_log: TraceLog | None,
    drift: DriftMonitor | None,
    meta_verifier: MetaVerifier | None,
) -> APIRouter:
    """The operator routes for what is configured (``/automix/policy`` always)."""
    router = APIRouter(tags=["monitoring"])

    if metrics is not None:
        from langchain_automix.observability.metrics import render_latest

        @router.get(METRICS_PATH, include_in_schema=False)
        async def scrape() -> Response:
            body, content_type = render_latest(metrics.registry)
            return Response(body, media_type=content_type)

    @router.get(POLICY_PATH)
    async def policy() -> dict[str, Any]:
        """The served meta-verifier, its provenance and the drift monitor's status."""
        out: dict[str, Any] = {"meta_verifier": None, "provenance": None, "drift": None}
        if meta_verifier is not None:
            mv = meta_verifier
            out["meta_verifier"] = {"name": mv.name, "describe": mv.describe()}
            if meta_verifier.provenance is not None:
                out["provenance"] = _provenance_summary(meta_verifier.provenance.to_dict())
        if drift is not None:
            out["drift"] = drift.status()
        return out

    if trace_log is not None:
        log = trace_log

        @router.post(FEEDBACK_PATH, status_code=202)
        async def feedback(body: Feedback) -> Response:
            """Store a user's score for a served query (joined on its id when read back)."""
            try:
                log.write_feedback(body.id, body.score, comment=body.comment)
            except ValueError as exc:
                return error_response(422, str(exc), code="invalid_input", param="id")
            return JSONResponse({"status": "recorded", "id": body.id}, status_code=202)

    return router


def _provenance_summary(data: dict[str, Any]) -> dict[str, Any]:
    """Provenance without the bulky stored sample of training signals."""
    return {k: v for k, v in data.items() if k != "signal_reference"}
