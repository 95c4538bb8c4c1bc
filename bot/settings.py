"""All of Dossier's settings: read once at start-up from the environment and an optional .env file."""

import json
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationInfo, field_validator
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
    shard_count: int | None = Field(default=None, ge=1, description="a whole number of shards, 1 or more")
    shard_ids: Annotated[list[int] | None, NoDecode] = Field(
        default=None, description="distinct shard numbers from 0 to SHARD_COUNT - 1, comma-separated (such as 0,1), "
                                  "with SHARD_COUNT set")
    health_port: int | None = Field(default=None, ge=1, le=65535, description="a port number from 1 to 65535")
    ask_cooldown_rate: int = Field(default=1, ge=1, description="a whole number, 1 or more")
    ask_cooldown_seconds: float = Field(default=10.0, ge=0, description="a number of seconds, 0 or more")
    reindex_progress_seconds: float = Field(default=2.0, gt=0, description="a number of seconds over 0")
    index_check_seconds: float = Field(default=60.0, ge=0, description="a number of seconds, 0 or more")
    buttons_timeout_seconds: float = Field(default=600.0, gt=0, lt=INTERACTION_TOKEN_SECONDS,
                                           description="a number of seconds over 0 and under 900")
    question_log: bool = Field(default=True, description="true or false")
    question_log_days: int = Field(default=90, ge=1, description="a whole number of days, 1 or more")
    database_path: Path = Field(default=Path("data/dossier.sqlite3"), description="a file path")
    database_url: SecretStr | None = Field(
        default=None, description="a PostgreSQL URL, postgresql://user:password@host:port/database")
    question_log_key: SecretStr | None = Field(
        default=None, description="64 hexadecimal digits (make them with: python -c 'import secrets; "
                                  "print(secrets.token_hex(32))')")

    @field_validator("discord_token", mode="before")
    @classmethod
    def _blank_token_is_none(cls, value: Any) -> Any:
        """`DISCORD_TOKEN=` (as in .env.example) means no token."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url", mode="before")
    @classmethod
    def _postgres_url(cls, value: Any) -> Any:
        """Only PostgreSQL: SQLite is DATABASE_PATH. Blank means none, as for the token."""
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(text, str) and not text.strip():
            return None
        if isinstance(text, str) and not text.startswith(("postgresql://", "postgres://")):
            raise ValueError("not a PostgreSQL URL")
        return value

    @field_validator("question_log_key", mode="before")
    @classmethod
    def _hex_key(cls, value: Any) -> Any:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(text, str) and not text.strip():
            return None
        if isinstance(text, str) and not re.fullmatch(r"[0-9a-fA-F]{64}", text.strip()):
            raise ValueError("not 64 hexadecimal digits")
        return text.strip() if isinstance(text, str) else value

    @field_validator("shard_ids")
    @classmethod
    def _shards_within_count(cls, shards: list[int] | None, info: ValidationInfo) -> list[int] | None:
        """SHARD_IDS needs SHARD_COUNT, and each id must be one of its shards, once."""
        count = info.data.get("shard_count") or 0
        if shards is not None and (not shards or len(set(shards)) != len(shards)
                                   or any(not 0 <= shard < count for shard in shards)):
            raise ValueError("not shards of SHARD_COUNT")
        return shards

    @property
    def sharding(self) -> bool:
        """Whether the bot runs as AutoShardedBot: SHARDED=true, or a SHARD_COUNT given."""
        return self.sharded or self.shard_count is not None

    @property
    def syncs_commands(self) -> bool:
        """Whether this process may sync the slash commands: the one process that runs shard 0 (or the only one)."""
        return self.shard_ids is None or 0 in self.shard_ids

    @field_validator("database_path")
    @classmethod
    def _database_from_project_folder(cls, path: Path) -> Path:  # its own name: the same would replace the base's
        return project_path(path)

    @field_validator("moderator_role_ids", "moderator_guild_ids", "shard_ids", mode="before")
    @classmethod
    def _id_list(cls, value: Any) -> Any:
        """Accepts a JSON list (`[1, 2]`) or comma-separated ids (`1,2`)."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
