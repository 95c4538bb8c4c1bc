"""The commands of `python -m index`, one module each: build, rollback and checks (live_index), export, add; loading
says on stderr what takes time. It may import every package of index/ (builds and below) and diagnose; only
index/__main__.py, which parses the command line and runs these, imports it.
"""
