"""The Discord side of Dossier, above index: settings; questionlog (the question log and its reports, which never
import the Discord side); rendering, the client and its guards; cogs (one command a file); and `python -m bot`,
whose commands are in commands."""
