"""What a turn produces - the messages and steps of a run - published as they appear and kept
until the turn stores them with its outcome."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..services import generated_files, messages, run_steps
from ..services.common import now
from ..services.run_end import Unsaved, text_part
from .citations import citations
from .engine_citations import Citer, terms
from .lifecycle import StepStatus, step_event
from .stream import Answer, ToolCall, function_call
from .turn_tools import BuiltinRound


class Record:
    """The turn's messages and steps: closed ones, the message being written, and the
    tool-call step of the current provider round."""

    def __init__(
        self,
        run: dict[str, Any],
        execution: dict[str, Any],
        publish: Callable[[str, Any], None],
        engine_citations: bool = False,
        question: str = "",
    ) -> None:
        self.run = run
        self.execution = execution
        self.run_id = run["id"]
        self.publish = publish
        self.include = tuple(execution.get("include") or ())
        self.done_messages: list[dict[str, Any]] = []
        self.done_steps: list[dict[str, Any]] = []
        self.message: dict[str, Any] | None = None
        self.message_step: dict[str, Any] | None = None
        self.text: list[str] = []
        self.tool_step: dict[str, Any] | None = None
        # Sentences of the message cited by the engine (FILE_SEARCH_ENGINE_CITATIONS): when on,
        # each message written after file_search results streams through a Citer.
        self.engine_citations = engine_citations
        self.question = frozenset(terms(question))
        self.citer: Citer | None = None
        # Outputs the engine gave function calls itself (a call repeated: see loops.py).
        self.given_outputs: dict[str, str] = {}
        self.answer = Answer()  # the current round's
        self.builtins = BuiltinRound(self.publish_step_delta, execution)

    def unsaved(self) -> Unsaved:
        """The turn's messages and steps as they stand (text streamed so far included)."""
        found = Unsaved(list(self.done_messages), list(self.done_steps))
        if self.message is not None:
            found.messages.append(self._message_now())
        if self.message_step is not None:
            found.steps.append(self.message_step)
        if self.tool_step is not None:
            found.steps.append(self._tool_step_now())
        return found

    def _message_now(
        self,
        annotations: list[dict[str, Any]] | None = None,
        extra_parts: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        assert self.message is not None
        pending = self.citer.pending if self.citer is not None else ""  # not yet published
        part = text_part("".join(self.text) + pending)
        if annotations:
            part["text"]["annotations"] = annotations
        return {**self.message, "content": [part, *(extra_parts or [])]}

    @property
    def said(self) -> str:
        """The text of the message being written."""
        return "".join(self.text)

    def publish_step(self, event: str, step: dict[str, Any]) -> None:
        self.publish(event, run_steps.visible(step, self.include))

    def _tool_step_now(self) -> dict[str, Any]:
        assert self.tool_step is not None
        calls = [
            self.builtins.step_call(call) or self._function_call(call)
            for call in self.answer.ordered_calls()
        ]
        return {**self.tool_step, "step_details": {"type": "tool_calls", "tool_calls": calls}}

    def _function_call(self, call: ToolCall) -> dict[str, Any]:
        shown = function_call(call, with_output=True)
        if call.id in self.given_outputs:
            shown["function"]["output"] = self.given_outputs[call.id]
        return shown

    def give_output(self, call: ToolCall, output: str) -> None:
        """A function call the engine answers itself, with `output` (published as a delta)."""
        self.given_outputs[call.id] = output
        function = {"name": call.name, "arguments": "", "output": output}
        self.publish_step_delta(
            {"index": call.index, "id": call.id, "type": "function", "function": function}
        )

    def on_text(self, text: str) -> None:
        if self.message is None:
            self.open_message()
        if self.citer is not None:
            text = self.citer.feed(text)
        if text:
            self._publish_text(text)

    def _publish_text(self, text: str) -> None:
        assert self.message is not None
        self.text.append(text)
        part = {"index": 0, "type": "text", "text": {"value": text, "annotations": []}}
        delta = {"content": [part]}
        self.publish(
            "thread.message.delta",
            {"id": self.message["id"], "object": "thread.message.delta", "delta": delta},
        )

    def open_message(self) -> None:
        message = messages.build(
            self.run["thread_id"],
            {"role": "assistant", "content": []},
            assistant_id=self.run["assistant_id"],
            run_id=self.run_id,
        )
        message.update(status="in_progress", completed_at=None)
        step = run_steps.message_creation(self.run, message["id"])
        self.message, self.message_step, self.text = message, step, []
        sources = self.execution.get("sources") or []
        self.citer = Citer(sources, self.question) if self.engine_citations and sources else None
        self.publish_step("thread.run.step.created", step)
        self.publish_step(step_event(StepStatus.IN_PROGRESS), step)
        self.publish("thread.message.created", message)
        self.publish("thread.message.in_progress", message)

    def close_message(
        self,
        incomplete: str | None = None,
        usage: Any = None,
        annotations: list[dict[str, Any]] | None = None,
        extra_parts: list[dict[str, Any]] | None = None,
    ) -> None:
        """The message is whole (or cut: `incomplete` says why); so is its step. `extra_parts`
        follow the text (e.g. image_file parts of charts the run's code made); without
        `annotations`, the citations of file_search sources in its text."""
        assert self.message is not None and self.message_step is not None
        self._flush_citer()
        if annotations is None:
            annotations = citations(self.said, self.execution.get("sources") or [])
        stamp = now()
        message = self._message_now(annotations, extra_parts)
        if incomplete is None:
            message.update(status="completed", completed_at=stamp)
        else:
            message.update(
                status="incomplete", incomplete_at=stamp, incomplete_details={"reason": incomplete}
            )
        step = {**self.message_step, "status": StepStatus.COMPLETED, "completed_at": stamp}
        event = "thread.message.completed" if incomplete is None else "thread.message.incomplete"
        self.publish(event, message)
        self.publish_step(step_event(StepStatus.COMPLETED), step)
        if usage is not None:  # stored with the step (the event went out without it)
            step = {**step, "usage": usage}
        self.done_messages.append(message)
        self.done_steps.append(step)
        self.message = self.message_step = None
        self.citer = None

    def _flush_citer(self) -> None:
        """The message's last sentence, held back by the Citer, published (cited if supported)."""
        if self.citer is not None and (rest := self.citer.flush()):
            self._publish_text(rest)

    def close_answer(
        self, finish_reason: str, usage: dict[str, int], execution: dict[str, Any]
    ) -> None:
        """The turn's final message, closed: its citations of file_search sources, links to
        and images of the files the run's code made (from the run's `execution`)."""
        if self.message is None:  # the model said nothing: still record an (empty) answer
            self.open_message()
        self._flush_citer()
        reason = {"length": "max_tokens", "content_filter": "content_filter"}
        said = self.said
        made = execution.get("generated_files") or []
        cited = citations(said, execution.get("sources") or [])
        cited += generated_files.file_path_annotations(said, made)
        cited.sort(key=lambda annotation: annotation["start_index"])
        images = generated_files.image_parts(made)
        self.close_message(reason.get(finish_reason), usage, cited, images)

    def on_tool_call(self, call: ToolCall, item: dict[str, Any]) -> None:
        if self.tool_step is None:
            if self.message is not None:
                self.close_message()
            self.tool_step = run_steps.tool_calls(self.run)
            self.publish("thread.run.step.created", self.tool_step)
            self.publish(step_event(StepStatus.IN_PROGRESS), self.tool_step)
        if self.builtins.tool_named(call.name):
            # A built-in call shows itself as its own type: as it is written, if the tool
            # says how (code_interpreter's code), and when it executes.
            self.builtins.stream_call(call)
            return
        self.publish_step_delta(item)

    def publish_step_delta(self, item: dict[str, Any]) -> None:
        assert self.tool_step is not None
        shown = run_steps.visible(
            {"step_details": {"type": "tool_calls", "tool_calls": [item]}}, self.include
        )
        details = shown["step_details"]
        self.publish(
            "thread.run.step.delta",
            {
                "id": self.tool_step["id"],
                "object": "thread.run.step.delta",
                "delta": {"step_details": details},
            },
        )

    def close_tool_step(self, usage: dict[str, int]) -> None:
        """A round of built-in calls only: its step is complete, the provider goes on."""
        step = {
            **self._tool_step_now(),
            "status": StepStatus.COMPLETED,
            "completed_at": now(),
            "usage": usage,
        }
        self.publish_step(step_event(StepStatus.COMPLETED), step)
        self.done_steps.append(step)
        self.tool_step = None
