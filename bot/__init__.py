"""The Discord side of Dossier: settings, client, cogs, rendering, and the `python -m bot` command line."""
