"""The operator API's ``Idempotency-Key`` store (``id_api_idempotency_keys``): claim a key, remember the answer.

The key row is inserted in the same transaction as the action it guards, so a concurrent retry with the same key
waits on that row and then sees the committed response; an action that fails rolls its key back with it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain.identity.models import IdempotencyKey

_RECORD_RESPONSE = text(
    "UPDATE id_api_idempotency_keys SET response_status = :status, response_body = CAST(:body AS jsonb)"
    " WHERE tenant_id = :tenant AND key = :key"
)


@dataclass(frozen=True)
class StoredRequest:
    """A key already used: the request it was used for and the response given (status 0 until recorded)."""

    request_fingerprint: str
    response_status: int
    response_body: dict[str, Any]


def claim_key(session: Session, *, tenant_id: uuid.UUID, key: str, fingerprint: str) -> StoredRequest | None:
    """None when the key is new and now ours; otherwise what it was first used for."""
    claimed = session.scalar(
        insert(IdempotencyKey)
        .values(tenant_id=tenant_id, key=key, request_fingerprint=fingerprint, response_status=0, response_body={})
        .on_conflict_do_nothing(index_elements=["tenant_id", "key"])
        .returning(IdempotencyKey.key)
    )
    if claimed is not None:
        return None
    stored = session.get(IdempotencyKey, (tenant_id, key))
    assert stored is not None
    return StoredRequest(stored.request_fingerprint, stored.response_status, stored.response_body)


def record_response(session: Session, *, tenant_id: uuid.UUID, key: str, status: int, body: object) -> None:
    session.execute(_RECORD_RESPONSE, {"status": status, "body": json.dumps(body), "tenant": tenant_id, "key": key})
