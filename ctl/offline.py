"""ctl's client without a server, for ``ctl validate``: the kinds, the schemas and the verdict
on a new object come from ``calicomodel``, the code the server runs for the same checks, so
a file validated here is refused or accepted by a server for the same reasons (all but the
rules about other objects: a policy's tier must exist, say, which calicoctl's offline
validate does not know either). The errors are the ones the server would answer with."""
from __future__ import annotations

import functools

from calicomodel import errors, intake, published
from calicomodel.catalog import Catalog
from calicomodel.validation import SCHEMAS, Validator

from .client import ApiError, KindInfo, error_from_status, kinds_from


class OfflineClient:
    """What ``validate`` asks of a client (``kinds``, ``schemas``, ``create`` as a dry run),
    answered from the model."""

    def __init__(self) -> None:
        self.catalog = Catalog()
        self._kinds = kinds_from(published.resource_list(self.catalog))

    @functools.cached_property
    def validator(self) -> Validator:
        return Validator(SCHEMAS, self.catalog)

    def kinds(self) -> list[KindInfo]:
        return self._kinds

    def schemas(self) -> dict[str, dict]:
        return {kind.kind: published.kind_schema(self.validator.schema(kind.kind))
                for kind in self.catalog}

    def create(self, kind: KindInfo, obj: dict, *, dry_run: bool = True) -> dict:
        """The object as the server would create it; raises the ApiError it would answer."""
        assert dry_run, "an offline client writes nothing"
        try:
            return intake.check_new(self.validator, self.catalog.kind(kind.kind), None, obj)
        except errors.ApiError as exc:
            raise _as_answered(exc) from None

    def close(self) -> None:
        pass


def _as_answered(exc: errors.ApiError) -> ApiError:
    """The server's error as ctl receives it: through the Status the server would send."""
    return error_from_status(exc.status(), exc.code)
