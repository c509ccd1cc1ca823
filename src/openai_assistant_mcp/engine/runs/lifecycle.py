"""A run's statuses and the moves between them: the one place they are spelled out.

A leaf module (it imports nothing from the engine), so every layer may use it: the store
filters on these statuses, the services and the executor move runs between them.

    queued -> in_progress -> completed | incomplete | failed | expired
                          -> requires_action -> queued (tool outputs) | expired | cancelled
    queued | in_progress -> cancelling -> cancelled
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    REQUIRES_ACTION = "requires_action"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    FAILED = "failed"
    COMPLETED = "completed"
    INCOMPLETE = "incomplete"
    EXPIRED = "expired"


class StepStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    CANCELLED = "cancelled"
    FAILED = "failed"
    COMPLETED = "completed"
    EXPIRED = "expired"


# The run is over: nothing changes it any more.
TERMINAL = frozenset(
    {
        RunStatus.COMPLETED,
        RunStatus.INCOMPLETE,
        RunStatus.FAILED,
        RunStatus.CANCELLED,
        RunStatus.EXPIRED,
    }
)
# The run still owns its thread: nothing may be added to the thread meanwhile.
ACTIVE = (
    RunStatus.QUEUED,
    RunStatus.IN_PROGRESS,
    RunStatus.REQUIRES_ACTION,
    RunStatus.CANCELLING,
)
# A process executes the run (it holds a lease); a lease that ran out means its process died.
EXECUTING = (RunStatus.QUEUED, RunStatus.IN_PROGRESS, RunStatus.CANCELLING)
# A turn may start from these.
STARTABLE = (RunStatus.QUEUED, RunStatus.IN_PROGRESS)
# A cancel request is accepted in these.
CANCELLABLE = (RunStatus.QUEUED, RunStatus.IN_PROGRESS, RunStatus.REQUIRES_ACTION)

# The `*_at` field a terminal status stamps.
STAMP: dict[str, str] = {
    RunStatus.COMPLETED: "completed_at",
    RunStatus.INCOMPLETE: "completed_at",
    RunStatus.FAILED: "failed_at",
    RunStatus.CANCELLED: "cancelled_at",
}
# Why a message still being written is `incomplete` when its run ends so.
MESSAGE_REASON: dict[str, str] = {
    RunStatus.CANCELLED: "run_cancelled",
    RunStatus.FAILED: "run_failed",
    RunStatus.EXPIRED: "run_expired",
    RunStatus.INCOMPLETE: "max_tokens",
}
# A step still in progress ends with its run: (step status, its `*_at` field).
STEP_END: dict[str, tuple[StepStatus, str]] = {
    RunStatus.CANCELLED: (StepStatus.CANCELLED, "cancelled_at"),
    RunStatus.FAILED: (StepStatus.FAILED, "failed_at"),
    RunStatus.EXPIRED: (StepStatus.EXPIRED, "expired_at"),
}
STEP_DONE = (StepStatus.COMPLETED, "completed_at")

# Stream events: after these the run waits or is over, and a stream ends with `done`.
FINAL_EVENTS = frozenset(
    f"thread.run.{status}" for status in (*TERMINAL, RunStatus.REQUIRES_ACTION)
)


def run_event(status: str) -> str:
    """The stream event announcing a run now in `status`."""
    return f"thread.run.{status}"


def step_event(status: str) -> str:
    """The stream event announcing a step now in `status` (in_progress included)."""
    return f"thread.run.step.{status}"
