"""Settings for the retrieval core, read once from the environment and the project's .env file.

Relative paths (SEEDS_DIR, CHROMA_PATH, ONNX_CACHE) and the .env file are taken from the project folder, not from the
folder a command is run in, so `python -m bot ask` finds the same index wherever it is started.
"""

import difflib
import ipaddress
import logging
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from dotenv.parser import parse_stream
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

log = logging.getLogger(__name__)

BUNDLED_MODEL = "all-MiniLM-L6-v2"
LIKENESS = 0.8  # difflib's ratio from which an unknown name is taken for a misspelt setting (SEED_DIR, DISCROD_TOKEN)
PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_FILE = PROJECT_ROOT / ".env"
DEFAULT_CHROMA_PORT = 8000

S = TypeVar("S", bound=BaseSettings)


def project_path(path: Path) -> Path:
    """A setting's path, a relative one taken from the project folder."""
    return path if path.is_absolute() else PROJECT_ROOT / path


_HOST_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class SettingsError(Exception):
    """A setting has a value Dossier cannot use; the message names it and says what it must be."""


class IndexSettings(BaseSettings):
    """Where the corpus and the index live, and which model embeds them.

    A field's `description` completes "NAME must be …" in the message for a bad value.
    """

    model_config = SettingsConfigDict(env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore",
                                      env_ignore_empty=True)

    seeds_dir: Path = Field(default=Path("seeds"), description="a folder path")
    chroma_path: Path = Field(default=Path("data/chroma"), description="a folder path")
    chroma_host: str | None = None
    chroma_port: int | None = Field(default=None, ge=1, le=65535, description="a port number from 1 to 65535")
    embedding_model: str = BUNDLED_MODEL
    embedding_backend: Literal["onnx", "sentence-transformers"] = Field(
        default="onnx", description="onnx or sentence-transformers")
    onnx_cache: Path = Field(default=Path("data/onnx"), description="a folder path")
    fetch_allow_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated host names or addresses, such as wiki.intranet.example,127.0.0.1")
    fetch_timeout_seconds: float = Field(default=30.0, gt=0, le=300, description="a number of seconds over 0, "
                                                                                 "at most 300")
    generations_path: Path | None = Field(default=None, description="a folder path")

    @field_validator("seeds_dir", "chroma_path", "onnx_cache", "generations_path")
    @classmethod
    def _from_project_folder(cls, path: Path | None) -> Path | None:
        return project_path(path) if path is not None else None

    @field_validator("fetch_allow_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: Any) -> Any:
        """Comma-separated hosts, compared as a link's host is: lower case, an IPv6 address without brackets."""
        if isinstance(value, str):
            value = value.split(",")
        if not isinstance(value, list):
            return value
        hosts = [str(host).strip().lower().removeprefix("[").removesuffix("]") for host in value]
        hosts = [host for host in hosts if host]
        if not all(_HOST_NAME.fullmatch(host) or _is_address(host) for host in hosts):
            raise ValueError("not host names")
        return hosts

    @property
    def uses_server(self) -> bool:
        return bool(self.chroma_host or self.chroma_port)

    @property
    def generations(self) -> Path:
        """Where this host keeps the generations' files (index/store/copies.py): GENERATIONS_PATH, else beside the
        embedded store's folder, else under data/ for a Chroma server."""
        if self.generations_path is not None:
            return self.generations_path
        if self.uses_server:
            return project_path(Path("data/generations"))
        return self.chroma_path.with_name(self.chroma_path.name + ".generations")

    @property
    def server_host(self) -> str:
        return self.chroma_host or "localhost"

    @property
    def server_port(self) -> int:
        return self.chroma_port or DEFAULT_CHROMA_PORT

    @property
    def server_address(self) -> str:
        """host:port of the Chroma server, with the defaults filled in."""
        return f"{self.server_host}:{self.server_port}"


def read_settings(cls: type[S], env_file: Path = ENV_FILE) -> S:
    """The settings from the environment and the .env file, or a SettingsError saying what to fix.

    A .env line that is not NAME=value is reported once, with its file and line, and otherwise ignored.
    """
    _warn_bad_env_lines(env_file)
    _warn_misspelt(cls, env_file)
    try:
        return cls(_env_file=env_file)
    except ValidationError as exc:
        # Not chained: pydantic's error repeats each bad value (input_value), secrets included, and -v would print it.
        raise SettingsError(_explain(cls, exc, env_file)) from None


def _warn_bad_env_lines(path: Path) -> None:
    # python-dotenv's own warnings are silenced in index/__init__.py: it warns once per read, and there are several.
    try:
        with path.open(encoding="utf-8") as stream:
            bad = [binding.original.line for binding in parse_stream(stream) if binding.error]
    except (OSError, UnicodeDecodeError):
        return
    for line in bad:
        log.warning("%s, line %d: not a NAME=value setting; the line is ignored", path, line)


def _warn_misspelt(cls: type[BaseSettings], env_file: Path) -> None:
    """Names each variable of the environment or the .env file that is no setting but looks like one, with the
    setting it probably means: a misspelt name is otherwise ignored without a word."""
    known = {name.upper() for name in cls.model_fields}
    found = {name.upper(): "the environment" for name in os.environ}
    try:
        with env_file.open(encoding="utf-8") as stream:
            found.update({binding.key.upper(): str(env_file) for binding in parse_stream(stream) if binding.key})
    except (OSError, UnicodeDecodeError):
        pass
    for name, where in sorted(found.items()):
        if name in known:
            continue
        for meant in difflib.get_close_matches(name, known, n=1, cutoff=LIKENESS):
            log.warning("%s (in %s) is no setting of Dossier's, so it is ignored: did you mean %s?", name, where, meant)


def _explain(cls: type[BaseSettings], exc: ValidationError, env_file: Path) -> str:
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        name = field.upper() or "a setting"
        info = cls.model_fields.get(field)
        expected = f"must be {info.description}" if info and info.description else error["msg"].lower()
        secret = "token" in field or (info is not None and "SecretStr" in str(info.annotation))  # never repeated
        given: Any = error.get("input")
        shown = "" if secret or isinstance(given, dict) else f" (it is {given!r})"
        lines.append(f"{name} {expected}{shown}: fix it in the environment or in {env_file}.")
    return "\n".join(dict.fromkeys(lines))
