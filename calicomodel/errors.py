"""API errors: one class per Kubernetes ``Status`` reason. Handlers raise, middleware renders.

    ApiError                     code  reason
    ├── BadRequest               400   BadRequest
    ├── Unauthorized             401   Unauthorized
    ├── Forbidden                403   Forbidden
    ├── NotFound                 404   NotFound
    ├── MethodNotAllowed         405   MethodNotAllowed
    ├── AlreadyExists            409   AlreadyExists
    ├── Conflict                 409   Conflict
    ├── Gone                     410   Expired
    ├── TooLarge                 413   RequestEntityTooLarge
    ├── UriTooLong               414   RequestURITooLong
    ├── UnsupportedMediaType     415   UnsupportedMediaType
    ├── Invalid                  422   Invalid (with field causes)
    ├── TooManyRequests          429   TooManyRequests
    ├── HeadersTooLarge          431   RequestHeaderFieldsTooLarge
    ├── ServiceUnavailable       503   ServiceUnavailable
    ├── Timeout                  504   Timeout
    └── InsufficientStorage      507   InsufficientStorage (the datastore is full)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence


@dataclass(frozen=True)
class Cause:
    """One failing field: a JSON path, a message a person understands, and a cause type."""

    field: str
    message: str
    reason: str = "FieldValueInvalid"

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message, "reason": self.reason}


class ApiError(Exception):
    code: ClassVar[int] = 500
    reason: ClassVar[str] = "InternalError"

    def __init__(self, message: str, *, kind: str | None = None, name: str | None = None,
                 causes: Sequence[Cause] = (), retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.kind, self.name = kind, name
        self.causes = tuple(causes)
        self.retry_after = retry_after

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                "status": "Failure", "message": self.message,
                                "reason": self.reason, "code": self.code}
        details: dict[str, Any] = {}
        if self.name is not None:
            details["name"] = self.name
        if self.kind is not None:
            details["group"] = "projectcalico.org"
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = [c.as_dict() for c in self.causes]
        if self.retry_after is not None:
            details["retryAfterSeconds"] = self.retry_after
        if details:
            body["details"] = details
        return body


class BadRequest(ApiError):
    code, reason = 400, "BadRequest"


class Unauthorized(ApiError):
    code, reason = 401, "Unauthorized"


class Forbidden(ApiError):
    code, reason = 403, "Forbidden"


class NotFound(ApiError):
    code, reason = 404, "NotFound"


class MethodNotAllowed(ApiError):
    code, reason = 405, "MethodNotAllowed"


class AlreadyExists(ApiError):
    code, reason = 409, "AlreadyExists"


class Conflict(ApiError):
    code, reason = 409, "Conflict"


class Gone(ApiError):
    code, reason = 410, "Expired"


class TooLarge(ApiError):
    code, reason = 413, "RequestEntityTooLarge"


class UriTooLong(ApiError):
    code, reason = 414, "RequestURITooLong"


class UnsupportedMediaType(ApiError):
    code, reason = 415, "UnsupportedMediaType"


class Invalid(ApiError):
    code, reason = 422, "Invalid"


class TooManyRequests(ApiError):
    code, reason = 429, "TooManyRequests"


class HeadersTooLarge(ApiError):
    code, reason = 431, "RequestHeaderFieldsTooLarge"


class ServiceUnavailable(ApiError):
    code, reason = 503, "ServiceUnavailable"


class Timeout(ApiError):
    code, reason = 504, "Timeout"


class InsufficientStorage(ApiError):
    code, reason = 507, "InsufficientStorage"
