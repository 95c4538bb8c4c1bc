"""Settings for the retrieval core, read once from the environment and an optional .env file."""

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

BUNDLED_MODEL = "all-MiniLM-L6-v2"


class IndexSettings(BaseSettings):
    """Where the corpus and the index live, and which model embeds them."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    seeds_dir: Path = Path("seeds")
    chroma_path: Path = Path("data/chroma")
    chroma_host: str | None = None
    chroma_port: int | None = Field(default=None, ge=1, le=65535)
    embedding_model: str = BUNDLED_MODEL
    embedding_backend: Literal["onnx", "sentence-transformers"] = "onnx"
    onnx_cache: Path = Path("data/onnx")

    @property
    def uses_server(self) -> bool:
        return bool(self.chroma_host or self.chroma_port)
