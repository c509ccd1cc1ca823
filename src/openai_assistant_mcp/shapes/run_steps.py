"""A run step's shape, declared once: the RunStep object field by field (`RUN_STEP_FIELDS`,
what `engine/services/run_steps.py` builds a step from). No request sets a step: every field
is the engine's, so a new one is an entry here and what the run writes into it."""

from __future__ import annotations

from .objects import WRITTEN, Fields

# The RunStep object (`thread.run.step`), every field in the order the engine writes it.
RUN_STEP_FIELDS: Fields = {
    "id": WRITTEN,
    "object": WRITTEN,
    "created_at": WRITTEN,
    "assistant_id": WRITTEN,
    "thread_id": WRITTEN,
    "run_id": WRITTEN,
    "type": WRITTEN,
    "status": WRITTEN,
    "step_details": WRITTEN,
    "last_error": WRITTEN,
    "expired_at": WRITTEN,
    "cancelled_at": WRITTEN,
    "failed_at": WRITTEN,
    "completed_at": WRITTEN,
    "metadata": WRITTEN,
    "usage": WRITTEN,
}
