"""All of Dossier's settings: read once at start-up from the environment and an optional .env file."""

from pydantic import SecretStr

from index.settings import IndexSettings


class Settings(IndexSettings):
    """The index settings plus the Discord ones. The token is a SecretStr: it never prints."""

    discord_token: SecretStr | None = None
