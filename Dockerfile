# Dossier in a container, set up by the same scripts/setup and run by the same scripts/run as on a machine.
# Building it, and the compose file that adds a Chroma server and PostgreSQL: docs/operating.md, "Docker".
FROM python:3.11-slim-bookworm

# torch's CPU build: the default torch wheel on PyPI pulls several GB of CUDA libraries.
ARG PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu

RUN useradd --system --create-home --home-dir /opt/dossier --shell /usr/sbin/nologin dossier
WORKDIR /opt/dossier
COPY --chown=dossier:dossier . .
USER dossier
# The volumes' mount points, made here so that the volumes belong to the dossier user.
RUN mkdir -p data chroma && bash scripts/setup

ENV HF_HUB_OFFLINE=1 \
    ONNX_CACHE=/opt/dossier/onnx \
    HEALTH_PORT=8081
# The model's ONNX export, made once into the image, so no start of the bot waits for it.
RUN .venv/bin/python -m index export

# The corpus, which moderators change through the bot, and data/: the embedded index and the SQLite question log
# (both unused when the settings name a Chroma server and PostgreSQL, as compose.yaml does).
VOLUME ["/opt/dossier/seeds", "/opt/dossier/data"]
HEALTHCHECK --interval=1m --timeout=30s --start-period=3m CMD .venv/bin/python -m bot health
# Builds the index from seeds/, then runs the bot; without DISCORD_TOKEN (docker run -it), the terminal mode.
CMD ["bash", "scripts/run"]
