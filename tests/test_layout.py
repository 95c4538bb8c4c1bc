"""The house's layout: imports run one way, from the seeds up to Discord, and each package says what it holds."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. A module may import its own floor and those below, never one above. settings and logging_setup sit at
# the top of index/ because the command lines own them, but every floor reads them and they import nothing of ours.
# fit (the code that writes the scorer's file) stands on index alone; the bot, above it, never imports it.
FLOORS = [
    ("index", "index.settings", "index.logging_setup"),
    ("index.ingest",),
    ("index.model",),
    ("index.store",),
    ("index.search",),
    ("index.builds",),
    ("index.diagnose",),
    ("index.commands",),
    ("index.__main__",),
    ("fit",),
    ("bot", "bot.settings"),
    ("bot.questionlog",),
    ("bot.cooldown", "bot.text", "bot.render", "bot.errors", "bot.help", "bot.repl", "bot.health", "bot.client",
     "bot.permissions", "bot.moderator_replies", "bot.reindexing", "bot.payload", "bot.quoting", "bot.answer_view"),
    ("bot.cogs",),
    ("bot.commands",),
    ("bot.__main__",),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


PACKAGES = ("index", "fit", "bot")
MODULES = {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def floor(module: str) -> int:
    """The floor of a module: that of the longest name in FLOORS it is or lies in."""
    found = [(len(name), n) for n, names in enumerate(FLOORS) for name in names
             if module == name or (module.startswith(name + ".") and name not in ("index", "bot"))]
    if not found:
        raise LookupError(f"{module} is on no floor: add it to FLOORS, and to docs/architecture.md")
    return max(found)[1]


def imports(module: str) -> set[str]:
    """The modules of ours that a module imports, anywhere in it (inside functions and TYPE_CHECKING too)."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                      for a in node.names}
    return {name for name in found if name.split(".")[0] in PACKAGES}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_one_above_it(module: str):
    above = sorted(name for name in imports(module) if floor(name) > floor(module))
    assert not above, f"{module} (floor {floor(module)}) imports {above}, above it"


def test_the_check_finds_an_upward_import():
    """The rule itself: search may read the store, and the store may not read search."""
    assert floor("index.store.chroma") < floor("index.search.searcher") < floor("index.builds.pipeline")
    assert floor("bot.questionlog.questionlog") < floor("bot.client") < floor("bot.cogs.ask")
    assert floor("index.search.evidence") < floor("fit.models") < floor("bot.client")
    with pytest.raises(LookupError):
        floor("index.somewhere_new")


def test_the_bot_never_imports_the_fit():
    """The bot answers with the scorer's file alone: no module of the bot imports fit/, the code that writes it."""
    importing = sorted(m for m in MODULES if m.split(".")[0] == "bot" and any(i.split(".")[0] == "fit"
                                                                               for i in imports(m)))
    assert not importing, f"{importing} import fit/"


@pytest.mark.parametrize("package", sorted(name for name, path in MODULES.items() if path.name == "__init__.py"
                                           and name not in ("index", "bot")))
def test_each_package_says_what_it_holds(package: str):
    """A package's docstring names each of its modules, and says what it may import."""
    doc = ast.get_docstring(ast.parse(MODULES[package].read_text(encoding="utf-8"))) or ""
    held = sorted(name.rsplit(".", 1)[1] for name in MODULES if name.startswith(package + ".")
                  and name.count(".") == package.count(".") + 1)
    unnamed = [name for name in held if not re.search(rf"\b{name}\b", doc)]
    assert held and not unnamed, f"{package}'s docstring does not name {unnamed}"
    assert "import" in doc




# The size of what a reader holds in mind at once: a module, a function.
MODULE_LINES = 300
FUNCTION_LINES = 60
SIZED = ("index", "bot", "bench", "fit")


def sized_files() -> list[Path]:
    return [p for package in SIZED if (ROOT / package).is_dir() for p in sorted((ROOT / package).rglob("*.py"))]


def long_functions(source: str) -> list[tuple[str, int]]:
    """The functions and methods of a module longer than FUNCTION_LINES, with their lengths (decorators and
    docstrings included)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno:
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            if node.end_lineno - start + 1 > FUNCTION_LINES:
                found.append((node.name, node.end_lineno - start + 1))
    return found


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of a graph of modules: each group of two or more modules that reach each other."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(node: str, edges: dict[str, set[str]], into: list[str]) -> None:
        stack = [(node, iter(sorted(edges.get(node, ()))))]
        seen.add(node)
        while stack:
            current, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                into.append(current)
            elif child not in seen:
                seen.add(child)
                stack.append((child, iter(sorted(edges.get(child, ())))))

    for node in sorted(graph):
        if node not in seen:
            visit(node, graph, order)
    reverse: dict[str, set[str]] = {}
    for node, targets in graph.items():
        for target in targets:
            reverse.setdefault(target, set()).add(node)
    seen.clear()
    found = []
    for node in reversed(order):
        if node not in seen:
            group: list[str] = []
            visit(node, reverse, group)
            if len(group) > 1:
                found.append(sorted(group))
    return found


@pytest.mark.parametrize("path", sized_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_and_functions_stay_small(path: Path):
    """No module past MODULE_LINES lines, no function past FUNCTION_LINES: split it along its seams."""
    source = path.read_text(encoding="utf-8")
    assert len(source.splitlines()) <= MODULE_LINES, f"{len(source.splitlines())} lines"
    assert not long_functions(source)


def test_no_import_circles():
    """No two modules import each other, however indirectly (imports inside functions count)."""
    assert circles({module: imports(module) & MODULES.keys() for module in MODULES}) == []


def test_the_size_and_circle_checks_find_what_they_look_for():
    """The rules themselves: a 61-line function is too long and a 60-line one is not; two modules importing each
    other, through a third, make one circle."""
    body = "".join(f"    x{n} = {n}\n" for n in range(59))
    assert long_functions(f"def f():\n{body}") == []
    assert long_functions(f"def f():\n{body}    x = 0\n") == [("f", 61)]
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
