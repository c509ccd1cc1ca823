"""Admin work on the store, for `openai-assistant-mcp tenants`: list tenants, move a tenant's
data from one key to another (key rotation, or data stored without a key)."""

from __future__ import annotations

from dataclasses import dataclass

from .settings import EngineSettings
from .store import tenants as tenant_sql
from .store.database import Database
from .store.files import private_dir
from .tenancy import DEFAULT_TENANT, TenantHasher, hasher_for

# Shown instead of the full hash: enough to tell tenants apart, too short to be a handle.
PREFIX_LENGTH = 12


@dataclass(frozen=True)
class Tenant:
    tenant: str
    counts: dict[str, int]

    @property
    def label(self) -> str:
        if self.tenant == DEFAULT_TENANT:
            return "default (no key)"
        return self.tenant[:PREFIX_LENGTH]


class NothingToMove(LookupError):
    """The old key (or the keyless tenant) owns no data: nothing was changed."""


async def _open(settings: EngineSettings) -> tuple[Database, TenantHasher]:
    if settings.data_dir.exists():
        private_dir(settings.data_dir)
    db = Database(settings.resolved_database_url())
    await db.migrate()
    return db, hasher_for(settings)


async def list_tenants(settings: EngineSettings) -> tuple[list[Tenant], TenantHasher]:
    """Every tenant with data, most objects first, and the hasher to match keys against."""
    db, hasher = await _open(settings)
    try:
        counts = await tenant_sql.count_by_tenant(db)
    finally:
        await db.close()
    found = [Tenant(tenant, rows) for tenant, rows in counts.items()]
    found.sort(key=lambda t: (-sum(t.counts.values()), t.tenant))
    return found, hasher


async def move_tenant(
    settings: EngineSettings, old_key: str | None, new_key: str
) -> tuple[Tenant, Tenant]:
    """Move everything of `old_key`'s tenant (None: data stored without a key) to `new_key`'s,
    in one transaction. Raises NothingToMove, changing nothing, when the old tenant is empty,
    and ValueError, changing nothing, when both tenants' files together pass the new key's
    storage quota (FILE_STORAGE_QUOTA_BYTES)."""
    db, hasher = await _open(settings)
    old, new = hasher.tenant_for(old_key), hasher.tenant_for(new_key)
    if old == new:
        await db.close()
        raise ValueError("the old and the new key are the same")
    quota = settings.file_storage_quota_bytes
    try:
        moved = await tenant_sql.move_tenant(db, old, new, quota)
    except tenant_sql.OverQuota as over:
        raise ValueError(
            f"the new key's files would take {over.total} bytes, over the storage quota of "
            f"{quota} bytes (FILE_STORAGE_QUOTA_BYTES); delete files first, or move (and "
            "serve) with a larger --file-storage-quota-bytes"
        ) from None
    finally:
        await db.close()
    if not any(moved.values()):
        raise NothingToMove(Tenant(old, moved).label)
    return Tenant(old, moved), Tenant(new, moved)


KEYLESS_DATA_WARNING = (
    "This store holds data saved without a key (single-user mode before each key became its "
    "own tenant); OPENAI_API_KEY's tenant does not see it. To move it to your key: "
    'NEW_OPENAI_API_KEY="$OPENAI_API_KEY" openai-assistant-mcp tenants move --from-keyless'
)


async def keyless_data_warning(db: Database) -> str | None:
    """The warning for a single user with a key whose store still has keyless data."""
    return KEYLESS_DATA_WARNING if await tenant_sql.owns_anything(db, DEFAULT_TENANT) else None
