"""All of Dossier's settings: read once at start-up from the environment and an optional .env file."""

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from index.settings import IndexSettings, project_path

# An interaction token lives 15 minutes; buttons must retire before their message can no longer be edited.
INTERACTION_TOKEN_SECONDS = 15 * 60


class Settings(IndexSettings):
    """The index settings plus the Discord ones. The token is a SecretStr: it never prints."""

    discord_token: SecretStr | None = None
    moderator_role_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, description="comma-separated role ids (numbers), such as 123,456")
    moderator_guild_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, description="comma-separated server ids (numbers), such as 123,456")
    dev_guild_id: int | None = Field(default=None, description="a server id (a number)")
    sync_commands_globally: bool = Field(default=False, description="true or false")
    sharded: bool = Field(default=False, description="true or false")
    ask_cooldown_rate: int = Field(default=1, ge=1, description="a whole number, 1 or more")
    ask_cooldown_seconds: float = Field(default=10.0, ge=0, description="a number of seconds, 0 or more")
    reindex_progress_seconds: float = Field(default=2.0, gt=0, description="a number of seconds over 0")
    index_check_seconds: float = Field(default=60.0, ge=0, description="a number of seconds, 0 or more")
    buttons_timeout_seconds: float = Field(default=600.0, gt=0, lt=INTERACTION_TOKEN_SECONDS,
                                           description="a number of seconds over 0 and under 900")
    question_log: bool = Field(default=True, description="true or false")
    question_log_days: int = Field(default=90, ge=1, description="a whole number of days, 1 or more")
    database_path: Path = Field(default=Path("data/dossier.sqlite3"), description="a file path")

    @field_validator("discord_token", mode="before")
    @classmethod
    def _blank_token_is_none(cls, value: Any) -> Any:
        """`DISCORD_TOKEN=` (as in .env.example) means no token."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_path")
    @classmethod
    def _database_from_project_folder(cls, path: Path) -> Path:  # its own name: the same would replace the base's
        return project_path(path)

    @field_validator("moderator_role_ids", "moderator_guild_ids", mode="before")
    @classmethod
    def _id_list(cls, value: Any) -> Any:
        """Accepts a JSON list (`[1, 2]`) or comma-separated ids (`1,2`)."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
