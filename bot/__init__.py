"""The Discord side of Dossier, above index: settings; log (the question log and its reports, which never import
the Discord side); rendering, the client and its guards; cogs (one command a file); and `python -m bot`."""
