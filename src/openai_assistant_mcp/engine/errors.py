"""API errors in OpenAI's envelope: {"error": {"message", "type", "param", "code"}}."""

from __future__ import annotations

from typing import Any


class APIError(Exception):
    """A refusal the API answers with `status` and OpenAI's error envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class StoreUnavailable(APIError):
    """The store cannot take a write now (disk full, database locked): 503, retry later."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(503, message, type="server_error", code="store_unavailable")
        self.retry_after = retry_after


def invalid(param: str | None, message: str, code: str | None = None) -> APIError:
    return APIError(400, message, param=param, code=code)


def not_found(kind: str, object_id: str) -> APIError:
    return APIError(404, f"No {kind} found with id '{object_id}'.")


def conflict(message: str, param: str | None = None) -> APIError:
    return APIError(400, message, param=param)


def unauthorized(message: str) -> APIError:
    return APIError(401, message, code="invalid_api_key")
