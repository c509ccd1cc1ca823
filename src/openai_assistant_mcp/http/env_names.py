"""Settings read from the environment only under their documented names.

Every settings section sets `populate_by_name` (so code may write
`EngineSettings(data_dir=...)`), and with it pydantic-settings also reads each field's bare
name from the environment: an exported `AUTH_TOKEN`, `ALLOWED_HOSTS`, `INSECURE_NO_AUTH` or
`UPLOAD_DIRS` changed the servers as if `MCP_AUTH_TOKEN` & co. had been set (the sandbox's
`VENV` or `MEMORY_MB` too, issue 21). Every section derives from `DocumentedSettings`, whose
environment source reads aliases only; names given in code go through the init source, which
this leaves alone."""

from __future__ import annotations

from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource


class DocumentedNamesOnly(EnvSettingsSource):
    """The environment, read only under each setting's documented name (its alias); a field
    with none (a nested section, e.g. `sandbox`, which reads its own `SANDBOX_*` names) is not
    read from the environment at all (`SANDBOX='{"SANDBOX_VENV": ...}'` set it)."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self.config = {**self.config, "populate_by_name": False, "validate_by_name": False}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field.alias is None and field.validation_alias is None:
            return None, field_name, False
        return super().get_field_value(field, field_name)


class DocumentedSettings(BaseSettings):
    """A settings section whose environment names are its documented ones, and only those."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, DocumentedNamesOnly(settings_cls), file_secret_settings
