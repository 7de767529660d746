#!/usr/bin/env python
"""House rules import-linter does not check (run by `make lint`):

- no module over 600 lines, outside migrations and rule data (RULE_DATA below);
- no import cycle between modules of `apps/` and `crisiscomm/`, counting imports made inside
  functions (a lazy import hides a cycle from Python, not from the reader);
- the domain never imports the HTTP layer: outside the web app and each app's HTTP modules
  (HTTP_MODULES), no module imports DRF, django-filter, drf-spectacular or apps.core.api, even
  inside a function (import-linter's wildcards cannot say "every module but these");
- selectors and services take keyword-only arguments: every public module-level function of an
  app's `selectors.py`, `services.py` and the concept modules `services.py` re-exports from
  (`from .declaration import ...`; not `models`) is `def fn(*, ...)`, so a call names what it
  passes and a reordered signature cannot silently swap two arguments.

Exit status 1 with each offence named; `check(root)` returns the offences for the tests.
"""

import ast
import sys
from pathlib import Path

MAX_LINES = 600
PACKAGES = ("apps", "crisiscomm")
# Data, not logic: the guide's rules as first installed.
RULE_DATA = {"apps/policy/guide.py"}
# The HTTP side of an app (and its wiring), allowed to speak DRF; everything else is domain.
HTTP_MODULES = {
    "api",
    "views",
    "urls",
    "web_urls",
    "oidc_urls",
    "admin",
    "permissions",
    "serializers",
    "forms",
    "authentication",
    "oidc",
    "middleware",
    "apps",
    "lockout",
    "backends",
    "management",
    "templatetags",
}
HTTP_PACKAGES = (
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "knox.auth",
    "knox.views",
    "apps.core.api",
)


# Models hold Django's own callables (field validators...), which Django calls positionally.
NOT_SERVICE_MODULES = {"models"}


def modules(root: Path) -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imported_names(path: Path) -> set[str]:
    """Every absolute module name `path` imports, anywhere in its body."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def is_domain(relative: Path) -> bool:
    parts = relative.with_suffix("").parts
    return parts[0] == "apps" and len(parts) > 2 and parts[1] != "web" and not set(parts[2:]) & HTTP_MODULES


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules `name` imports anywhere in its body (top level or inside functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package
                for _ in range(node.level - 1):
                    parent = parent.rpartition(".")[0]
                base = f"{parent}.{node.module}" if node.module else parent
            # `from pkg import mod` imports the module pkg.mod; `from mod import name` imports mod.
            candidates = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in known:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                targets.add(candidate)
    return targets


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def keyword_only_scope(root: Path) -> list[Path]:
    """Each app's selectors.py and services.py, and the modules services.py re-exports from."""
    scope = []
    for app in sorted(p for p in (root / "apps").iterdir() if p.is_dir()):
        services = app / "services.py"
        split = set()
        if services.exists():
            for node in ast.parse(services.read_text(), filename=str(services)).body:
                if isinstance(node, ast.ImportFrom) and node.level == 1:
                    names = [node.module] if node.module else [alias.name for alias in node.names]
                    split |= {name for name in names if name.split(".")[0] not in NOT_SERVICE_MODULES}
        candidates = [app / "selectors.py", services] + [
            app / f"{name.replace('.', '/')}.py" for name in sorted(split)
        ]
        scope += [path for path in candidates if path.exists()]
    return scope


def positional_functions(path: Path) -> list[str]:
    """Public module-level functions of `path` taking a positional parameter (methods and
    nested functions are not looked at; `*args` alone is not a positional parameter)."""
    found = []
    for node in ast.parse(path.read_text(), filename=str(path)).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_"):
            positional = [a.arg for a in node.args.posonlyargs + node.args.args]
            if positional:
                found.append(f"{node.name}({', '.join(positional)})")
    return found


def check(root: Path) -> list[str]:
    known = modules(root)
    offences = []
    for path in known.values():
        relative = str(path.relative_to(root))
        length = len(path.read_text().splitlines())
        if length > MAX_LINES and relative not in RULE_DATA:
            offences.append(f"{relative}: {length} lines (at most {MAX_LINES})")
        if is_domain(path.relative_to(root)):
            for imported in sorted(imported_names(path)):
                if imported == "apps.core.api" or imported.startswith(
                    tuple(f"{p}." for p in HTTP_PACKAGES) + HTTP_PACKAGES
                ):
                    offences.append(f"{relative}: the domain imports the HTTP layer ({imported})")
                    break
    for path in keyword_only_scope(root):
        for function in positional_functions(path):
            offences.append(
                f"{path.relative_to(root)}: {function} takes positional arguments"
                " (selectors and services are keyword-only: def fn(*, ...))"
            )
    graph = {name: imports(name, path, known) for name, path in known.items()}
    for component in cycles(graph):
        offences.append("import cycle: " + " -> ".join(component))
    return offences


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    offences = check(root)
    for offence in offences:
        print(offence)
    print(f"architecture: {len(offences)} offence(s)")
    return 1 if offences else 0


if __name__ == "__main__":
    sys.exit(main())
