"""Request dependencies: the engine's state, the caller, and list query parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Query, Request

from ..services.common import ListQuery
from ..state import EngineState


@dataclass(frozen=True)
class Caller:
    """Who is calling: their tenant ID, and their key for the provider (memory only)."""

    tenant: str
    api_key: str | None


def engine_state(request: Request) -> EngineState:
    return request.app.state.engine


def caller(request: Request) -> Caller:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    api_key = key.strip() if scheme.lower() == "bearer" and key.strip() else None
    return Caller(request.app.state.engine.hasher.tenant_for(api_key), api_key)


def list_query(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["asc", "desc"] = "desc",
    after: str | None = None,
    before: str | None = None,
) -> ListQuery:
    return ListQuery(limit=limit, order=order, after=after, before=before)


State = Annotated[EngineState, Depends(engine_state)]
CallerDep = Annotated[Caller, Depends(caller)]
ListQueryDep = Annotated[ListQuery, Depends(list_query)]
