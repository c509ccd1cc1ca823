"""The upstream code this package overrides, copies or reads the internals of is still the code
it was written against.

`mcp/transports/streamable_http.py` overrides the mcp SDK's private `_handle_post_request` and
copies `_admit_session`; `http/server.py` overrides uvicorn's `Server` methods and reads its
connections' internals. The pins in pyproject.toml (`mcp==2.3.0`, `uvicorn>=0.54,<0.55`) keep
those versions, and this test notices a change within a pin (a patch release, a fork, a
vendored copy): each upstream function's source is hashed and compared with the hash recorded
when our code was last checked against it. A mismatch names what to re-read; after re-reading
(and adapting our code if needed), record the new hash printed in the failure.
docs/upstream.md says what small upstream change would remove each override.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect

import pytest

# "module:qualified name" -> (sha256 of its source, what of ours depends on it).
UPSTREAM: dict[str, tuple[str, str]] = {
    "mcp.server.streamable_http:StreamableHTTPServerTransport.__init__": (
        "30f41bfc3918d340da61e0d5cc2b3a59e659c1801490868943090da921a458da",
        "PerRequestTransport (mcp/transports/streamable_http.py): the constructor's arguments "
        "(given by our _admit_session copy), `is_json_response_enabled` (a property of ours), "
        "`_requests_in_flight` and `idle_scope` (read to tell a busy session)",
    ),
    "mcp.server.streamable_http:StreamableHTTPServerTransport._handle_post_request": (
        "cc4f2cd0c9e317a21143498e9439365cce6a147fbb88661a3e997ccefc2a0139",
        "PerRequestTransport._handle_post_request: wraps it, relying on it reading "
        "`is_json_response_enabled` per request and the body through `request.body()`",
    ),
    "mcp.server.streamable_http_manager:StreamableHTTPSessionManager.__init__": (
        "a005ca7a36855dc6c87cb8da5b81d661050055f72a1ef76e78066ed4cfba58af",
        "PerRequestSessionManager: `max_sessions`, `event_store`, `security_settings`, "
        "`retry_interval`, `session_idle_timeout`, `_session_owners`, `_server_instances`",
    ),
    "mcp.server.streamable_http_manager:StreamableHTTPSessionManager._handle_stateful_request": (
        "aaa548f3ce29008dc1c399d288f9c6a8d35a6489dcefe9e67f787d5161e7170e",
        "PerRequestSessionManager._handle_stateful_request: wraps it; relies on it calling "
        "_admit_session for a new session (in the same task, for the client context variable)",
    ),
    "mcp.server.streamable_http_manager:StreamableHTTPSessionManager._admit_session": (
        "be70a49c7998add896e005f478d84fb33c29778fd5f479c66cf7df50d9bf5a4f",
        "PerRequestSessionManager._admit_session is a copy of it (transport class swapped, "
        "the session table deciding room): port any change into the copy",
    ),
    "mcp.server.streamable_http_manager:StreamableHTTPSessionManager._discard_session": (
        "29912d64573817be28989346e0c57591a6760c66d419c12f5169d04a5e54b0b3",
        "PerRequestSessionManager._discard_session / _close_idle: forget a session the way "
        "the SDK does (`_server_instances`, `_session_owners`)",
    ),
    "uvicorn.server:Server.__init__": (
        "c150b55284f7511eba734c0219b897d3406fa0750c5f568f629673431e832187",
        "GuardedServer (http/server.py): `server_state`, `started`, `force_exit`, `servers`",
    ),
    "uvicorn.server:Server.startup": (
        "2aa1d70a244bfcf21a1ae57e0152f9c20e40f756ffc328ccc58037f6ae8e2dfc",
        "GuardedServer.startup: calls it, then starts the stalled-connection reaper if started",
    ),
    "uvicorn.server:Server.shutdown": (
        "9b33c50562992b1e3cef2a9611408ece6c01d46ee17eaae2091b6091bf826eab",
        "GuardedServer.shutdown: closes the listeners and drains before calling it",
    ),
    "uvicorn.server:Server.capture_signals": (
        "e1bbcd4770d1c8877454c17466d7bb229ec2cb9776e12703830ff64fc024758f",
        "GuardedServer.capture_signals is a copy of it without the re-raise of the signal: "
        "port any change into the copy",
    ),
    "uvicorn.server:Server.handle_exit": (
        "c8ecef358e55d8feeeb199f7e960fff97573ee02db4a2132baf67927498279e6",
        "GuardedServer.capture_signals installs it as the SIGINT/SIGTERM handler",
    ),
    "uvicorn.server:ServerState.__init__": (
        "8daf3a9b4e4e424520b5f7fd00df3eeb4eed5cb7bdcd17a8a2e15fbe89c06ea8",
        "GuardedServer._close_stalled_connections: `server_state.connections`",
    ),
    "uvicorn.protocols.http.h11_impl:H11Protocol.__init__": (
        "ad1ed8e837b2db8d69271a0d66d07bed5f9ce0f51b1579e2e289070ee74d0e63",
        "GuardedServer._close_stalled_connections: a connection's `cycle`",
    ),
    "uvicorn.protocols.http.h11_impl:H11Protocol.connection_made": (
        "6efb565ff3d36b916c29bd42330a2b99b601b48932389e396e5ac53dbef6b91c",
        "GuardedServer._close_stalled_connections: a connection's `transport`, closed",
    ),
    "uvicorn.protocols.http.h11_impl:RequestResponseCycle.__init__": (
        "d245415af679f8ad508da3af00aef4663f9b2aa87a57cd7808a8750c99845754",
        "GuardedServer._close_stalled_connections: `cycle.response_complete`",
    ),
    "uvicorn.protocols.http.httptools_impl:HttpToolsProtocol.__init__": (
        "4f08999410347141468656d82e71ffebccb59f09e41909a3753a810eeed685fa",
        "GuardedServer._close_stalled_connections: a connection's `cycle`",
    ),
    "uvicorn.protocols.http.httptools_impl:HttpToolsProtocol.connection_made": (
        "6efb565ff3d36b916c29bd42330a2b99b601b48932389e396e5ac53dbef6b91c",
        "GuardedServer._close_stalled_connections: a connection's `transport`, closed",
    ),
    "uvicorn.protocols.http.httptools_impl:RequestResponseCycle.__init__": (
        "4d2f220910c33c12f2891cbf2fb89ad364464e1a189e7492e8dc43167563057a",
        "GuardedServer._close_stalled_connections: `cycle.response_complete`",
    ),
}


def source_hash(target: str) -> str:
    module_name, qualname = target.split(":")
    obj: object = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()


@pytest.mark.parametrize("target", sorted(UPSTREAM))
def test_upstream_code_unchanged(target: str) -> None:
    recorded, ours = UPSTREAM[target]
    try:
        found = source_hash(target)
    except (ImportError, AttributeError) as gone:
        pytest.fail(f"{target} is gone upstream ({gone}); re-check {ours}")
    assert found == recorded, (
        f"{target} changed upstream. Re-read it and re-check {ours}; then record its new "
        f"hash {found} in tests/test_upstream_pins.py."
    )
