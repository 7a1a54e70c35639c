"""Flat remote-code files generated from the installed `variformer` source at export time.

transformers runs the remote code of a Hub repo by copying the file `auto_map` names into its module cache together
with the same-folder, single-dot relative imports that file makes (`from .configuration_variformer import X`).
Package imports such as `from ..configuration import VariformerConfig` cannot be shipped, so
`generate_remote_code()` flattens each package of `REMOTE_PACKAGES` into one module:

1. discover the modules the package's `__init__` reaches through `variformer` imports (at module level or inside
   functions), reading source files only;
2. order them so that each module follows the modules its module-level imports need (imports only go downward);
3. give every module-level binding one name in the flat namespace; a clash gets a `_<module>` suffix and its
   references are renamed (scope-aware: shadowing locals, attributes and keywords are left alone);
4. drop the `variformer` imports and per-module `__all__`, hoist third-party imports to the top of the file, and
   copy everything else verbatim under a comment naming its source module.

The result is checked before it is returned: it compiles, and no import in it names `variformer` or a relative
module other than the generated siblings.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "variformer"
# generated module (file stem) -> package flattened into it; a later file may import an earlier one, not the reverse
REMOTE_PACKAGES: dict[str, str] = {
    "configuration_variformer": "variformer.configuration",
    "modeling_variformer": "variformer.modeling",
}
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.ListComp, ast.SetComp,
           ast.DictComp, ast.GeneratorExp)
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_BLOCK_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")
_TYPES = ("ext", "import", "types", "types")  # identity of `import types`, needed by module-object shims

# Identities (what a module-level name is bound to):
#   ("def", module, name)          defined by a statement of `module` (or bound there more than once)
#   ("module", module)             a module object of the package (`from . import norms`)
#   ("ext", "from", source, name)  `from source import name` of a third-party module
#   ("ext", "import", top, top)    `import top` or `import top.sub` (binds `top`)
#   ("ext", "import-as", dotted, dotted)  `import dotted as name`


class RemoteCodeError(RuntimeError):
    """The package source uses a construct the flat export cannot reproduce; the message names file and line."""


@dataclass(frozen=True)
class RemoteCode:
    """Generated files (`{"modeling_variformer.py": source, ...}`) and where each package definition ended up."""

    files: dict[str, str]
    locations: dict[tuple[str, str], str]  # (defining module, name) -> "file_stem.FlatName"

    def class_reference(self, cls: type) -> str:
        """`auto_map` reference of a class of the package, e.g. "modeling_variformer.VariformerForCausalLM"."""
        key = (cls.__module__, cls.__qualname__)
        if key not in self.locations:
            raise RemoteCodeError(f"{cls.__module__}.{cls.__qualname__} is not part of the generated remote code.")
        return self.locations[key]


# ---------------------------------------------------------------------------------------------- reading the source
@dataclass
class _Binding:
    """One module-level name bound by a statement."""

    name: str
    stmt: ast.stmt
    alias: ast.alias | None = None  # for import statements
    in_body: bool = True  # directly in the module body (not inside if/try/with or a function)


@dataclass
class _Module:
    name: str
    path: Path
    is_package: bool
    source: str = field(repr=False)
    tree: ast.Module = field(repr=False)

    @property
    def package(self) -> str:
        return self.name if self.is_package else self.name.rpartition(".")[0]

    @property
    def stem(self) -> str:
        return self.name.rpartition(".")[2]

    def where(self, node: ast.AST) -> str:
        return f"{self.path}:{getattr(node, 'lineno', '?')}"


def _module_level_statements(body: list[ast.stmt]):
    """Statements executed in module scope: the body and the blocks of module-level if/try/with/for/while."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, _SCOPES):
            continue
        for name in _BLOCK_FIELDS:
            for child in getattr(stmt, name, None) or []:
                inner = child.body if isinstance(child, (ast.ExceptHandler, ast.match_case)) else [child]
                yield from _module_level_statements(inner)


def _stored_names(node: ast.AST):
    """Names an expression or a simple statement stores (nested scopes and nested statements excluded)."""
    todo = [node]
    while todo:
        current = todo.pop()
        if isinstance(current, ast.Name) and isinstance(current.ctx, (ast.Store, ast.Del)):
            yield current.id
        todo += [c for c in ast.iter_child_nodes(current) if not isinstance(c, (*_SCOPES, ast.stmt))]


def _walk_scope(node: ast.AST):
    """`node` and its descendants in the same scope (nested scope nodes are yielded, their insides are not)."""
    yield node
    if not isinstance(node, _SCOPES):
        for child in ast.iter_child_nodes(node):
            yield from _walk_scope(child)


def _is_package_name(name: str | None) -> bool:
    return name is not None and (name == PACKAGE or name.startswith(PACKAGE + "."))


def _is_all_assignment(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
        targets = [stmt.target]
    else:
        return False
    return any(isinstance(target, ast.Name) and target.id == "__all__" for target in targets)


def _is_future(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"


class _Source:
    """The package's modules as parsed source files, and what each module-level name of them is bound to."""

    def __init__(self, root: Path):
        self.root = root
        self.modules: dict[str, _Module] = {}
        self.tables: dict[str, dict[str, tuple] | None] = {}
        self.dotted_imports: dict[str, set[str]] = {}  # `import a.b.c` statements by the name they bind ("a")

    def module(self, name: str) -> _Module:
        if name not in self.modules:
            path, is_package = self._locate(name)
            if path is None:
                raise RemoteCodeError(f"module {name} has no source file under {self.root}.")
            source = path.read_text(encoding="utf-8")
            self.modules[name] = _Module(name, path, is_package, source, ast.parse(source, str(path)))
        return self.modules[name]

    def _locate(self, name: str) -> tuple[Path | None, bool]:
        base = self.root.joinpath(*name.split(".")[1:])
        if (base / "__init__.py").is_file():
            return base / "__init__.py", True
        return (base.with_suffix(".py"), False) if base.with_suffix(".py").is_file() else (None, False)

    def import_source(self, module: _Module, node: ast.ImportFrom) -> str | None:
        if node.level == 0:
            return node.module
        return importlib.util.resolve_name("." * node.level + (node.module or ""), module.package)

    def bindings(self, module: _Module) -> list[_Binding]:
        found = []
        for stmt in _module_level_statements(module.tree.body):
            in_body = any(stmt is top for top in module.tree.body)
            if isinstance(stmt, _DEFS):
                found.append(_Binding(stmt.name, stmt, in_body=in_body))
            elif isinstance(stmt, (ast.Import, ast.ImportFrom)) and not _is_future(stmt):
                for alias in stmt.names:
                    if alias.name == "*":
                        raise RemoteCodeError(f"{module.where(stmt)}: star imports cannot be flattened.")
                    found.append(_Binding(alias.asname or alias.name.split(".")[0], stmt, alias, in_body))
            elif not _is_all_assignment(stmt) and not isinstance(stmt, (ast.Import, ast.ImportFrom)):
                found += [_Binding(name, stmt, in_body=in_body) for name in _stored_names(stmt)]
        for node in ast.walk(module.tree):  # `global x` inside a function binds the module-level x
            if isinstance(node, ast.Global):
                found += [_Binding(name, node, in_body=False) for name in node.names]
        return found

    def import_identity(self, module: _Module, stmt: ast.stmt, alias: ast.alias) -> tuple:
        if isinstance(stmt, ast.Import):
            if not _is_package_name(alias.name):
                if alias.asname is None:  # `import a.b` binds `a`, like `import a` does
                    top = alias.name.split(".")[0]
                    self.dotted_imports.setdefault(top, set()).add(alias.name)
                    return ("ext", "import", top, top)
                return ("ext", "import-as", alias.name, alias.name)
            if alias.asname is None:
                raise RemoteCodeError(f"{module.where(stmt)}: `import {alias.name}` cannot be flattened; use "
                                      "`from ... import name`.")
            return self.module_identity(alias.name, module, stmt)
        source = self.import_source(module, stmt)
        if _is_package_name(source):
            return self.resolve(source, alias.name, module, stmt)
        return ("ext", "from", source, alias.name)

    def module_identity(self, name: str, module: _Module, stmt: ast.stmt) -> tuple:
        if name == PACKAGE:
            raise RemoteCodeError(f"{module.where(stmt)}: the top-level {PACKAGE!r} package cannot be flattened "
                                  "(it registers the Auto classes); import from its subpackages.")
        self.module(name)
        return ("module", name)

    def table(self, name: str) -> dict[str, tuple]:
        """Module-level name -> identity, for module `name`."""
        if name in self.tables:
            if self.tables[name] is None:
                raise RemoteCodeError(f"module-level import cycle through {name}.")
            return self.tables[name]
        self.tables[name] = None
        module = self.module(name)
        grouped: dict[str, list[_Binding]] = {}
        for binding in self.bindings(module):
            grouped.setdefault(binding.name, []).append(binding)
        table = {}
        for bound, group in grouped.items():
            identities = {self.import_identity(module, b.stmt, b.alias) if b.alias else ("def", name, bound)
                          for b in group}
            from_package = any(i[0] == "module" or (i[0] == "def" and i[1] != name) for i in identities)
            if from_package and len(identities) > 1:
                raise RemoteCodeError(f"{module.where(group[0].stmt)}: {bound!r} is imported from {PACKAGE} and "
                                      "bound again in the same module; flattening needs one binding.")
            hoistable = len(group) == 1 and group[0].alias is not None and group[0].in_body
            table[bound] = identities.pop() if from_package or hoistable else ("def", name, bound)
        self.tables[name] = table
        return table

    def resolve(self, source: str, attr: str, module: _Module, stmt: ast.stmt) -> tuple:
        """What `from <source> import <attr>` binds, following re-exports through package `__init__`s."""
        if self.tables.get(source) is None and self._locate(f"{source}.{attr}")[0] is not None:
            # a submodule; asked while the package's own table is unknown or being built (`from pkg import mod`)
            return self.module_identity(f"{source}.{attr}", module, stmt)
        table = self.table(source)
        if source == PACKAGE and table.get(attr, ("def", PACKAGE))[:2] == ("def", PACKAGE):
            raise RemoteCodeError(f"{module.where(stmt)}: {attr!r} comes from the top-level {PACKAGE!r} package, "
                                  "which cannot be flattened; import it from the subpackage that defines it.")
        if attr in table:
            return table[attr]
        if self._locate(f"{source}.{attr}")[0] is not None:
            return self.module_identity(f"{source}.{attr}", module, stmt)
        raise RemoteCodeError(f"{module.where(stmt)}: {source} has no module-level name {attr!r}.")

    def package_imports(self, module: _Module):
        """(statement, alias, identity, at module level) of every `variformer` import in `module`."""
        level = {id(stmt) for stmt in _module_level_statements(module.tree.body)}
        for node in ast.walk(module.tree):
            if isinstance(node, ast.ImportFrom) and not _is_future(node):
                inside = [_is_package_name(self.import_source(module, node))] * len(node.names)
            elif isinstance(node, ast.Import):
                inside = [_is_package_name(alias.name) for alias in node.names]
            else:
                continue
            if any(inside) and not all(inside):
                raise RemoteCodeError(f"{module.where(node)}: split this import; {PACKAGE} and third-party modules "
                                      "are imported in one statement.")
            for alias in node.names if all(inside) else []:
                yield node, alias, self.import_identity(module, node, alias), id(node) in level

    def ordered_modules(self, root: str, taken: set[str]) -> list[_Module]:
        """Modules reachable from package `root` (minus `taken`), each after those its module-level imports need."""
        order: list[str] = []
        state: dict[str, str] = {}
        lazy: list[str] = []

        def visit(name: str, chain: tuple[str, ...]) -> None:
            if name in taken or state.get(name) == "done":
                return
            if state.get(name) == "active":
                raise RemoteCodeError(f"import cycle between modules: {' -> '.join(chain + (name,))}.")
            state[name] = "active"
            for _, _, identity, at_module_level in self.package_imports(self.module(name)):
                if at_module_level:
                    visit(identity[1], chain + (name,))
                else:
                    lazy.append(identity[1])
            state[name] = "done"
            order.append(name)

        visit(root, ())
        while lazy:
            visit(lazy.pop(0), ())
        return [self.module(name) for name in order]


# ---------------------------------------------------------------------------------------------- one flat file
class _FlatFile:
    """The flat namespace and the generated text of one remote-code file."""

    def __init__(self, source: _Source, stem: str, root: str, modules: list[_Module], placed: dict[str, str],
                 sibling_names: dict[tuple, str]):
        self.source, self.stem, self.root, self.modules = source, stem, root, modules
        self.placed = placed  # module -> file stem, for every module of every file
        self.sibling_names = sibling_names  # identity -> flat name, for definitions placed in earlier files
        self.owner: dict[str, tuple] = {}  # flat name -> identity
        self.flat: dict[tuple, str] = {}  # identity -> flat name
        self.renames: dict[str, dict[str, str]] = {m.name: {} for m in modules}
        self.ext_order: list[tuple] = []
        self.sibling_imports: list[tuple] = []

    # ------------------------------------------------------------------ naming
    def assign_names(self) -> None:
        """Own definitions first (they keep their names), then sibling-file names, module shims, third parties."""
        pending = []
        for module in self.modules:
            pending += [(module, bound, identity) for bound, identity in self.source.table(module.name).items()]
            pending += [(module, alias.asname or alias.name, identity)
                        for _, alias, identity, at_module_level in self.source.package_imports(module)
                        if not at_module_level and identity[0] == "def"]
            if any(i[0] == "module" for _, _, i, _ in self.source.package_imports(module)):
                pending.append((module, "types", _TYPES))

        def rank(item) -> int:
            module, _, identity = item
            imported_def = identity[0] == "def" and identity[1] != module.name
            return {"def": 1 if imported_def else 0, "module": 2, "ext": 3}[identity[0]]

        for module, bound, identity in sorted(pending, key=rank):
            self.check_placement(module, identity)
            flat = self.claim(identity, self.preferred_name(identity, bound), module)
            if self.renames[module.name].get(bound, flat) != flat:
                raise RemoteCodeError(f"{module.path}: {bound!r} names two different objects; rename one of them.")
            if flat != bound and identity != _TYPES:
                self.renames[module.name][bound] = flat

    def preferred_name(self, identity: tuple, bound: str) -> str:
        if identity[0] != "def":
            return bound
        return identity[2] if self.placed[identity[1]] == self.stem else self.sibling_names[identity]

    def claim(self, identity: tuple, preferred: str, module: _Module) -> str:
        if identity in self.flat:
            return self.flat[identity]
        name, counter = preferred, 1
        while name in self.owner and not _same_object(self.owner[name], identity):
            counter += 1
            name = f"{preferred}_{module.stem}" + (str(counter - 1) if counter > 2 else "")
        self.flat[identity] = name
        if name not in self.owner:  # else: the same third-party object under another import path
            self.owner[name] = identity
            if identity[0] == "ext":
                self.ext_order.append(identity)
            elif identity[0] == "def" and self.placed[identity[1]] != self.stem:
                self.sibling_imports.append(identity)
        return name

    def check_placement(self, module: _Module, identity: tuple) -> None:
        if identity[0] == "ext":
            return
        target = self.placed.get(identity[1])
        if target is None:
            raise RemoteCodeError(f"{module.path}: imports {identity[1]}, which no remote-code file contains.")
        if identity[0] == "module" and target != self.stem:
            raise RemoteCodeError(f"{module.path}: imports the module {identity[1]} of {target}.py; import the "
                                  "names it needs instead.")
        stems = list(REMOTE_PACKAGES)
        if stems.index(target) > stems.index(self.stem):
            raise RemoteCodeError(f"{module.path}: imports {identity[1]}, which is flattened into the later file "
                                  f"{target}.py; imports must only go downward.")

    # ------------------------------------------------------------------ text
    def render(self, version: str) -> str:
        future = sorted({alias.name for m in self.modules for node in m.tree.body if _is_future(node)
                         for alias in node.names})
        lines = [
            f'"""Variformer remote code generated by variformer.hub_upload (variformer {version}); do not edit.',
            "",
            "Flattened from these modules of the package, in this order; the code below is copied verbatim, with",
            "package imports resolved into this file (or its sibling files) and third-party imports gathered here:",
            *[f"    {module.name}" for module in self.modules],
            '"""',
            "",
        ]
        if future:
            lines += [f"from __future__ import {', '.join(future)}", ""]
        lines += self.render_imports()
        for module in self.modules:
            text = self.render_module(module).strip("\n")
            if text.strip():
                relative = module.path.relative_to(self.source.root.parent).as_posix()
                lines += ["", "", f"# {'-' * 20} {relative} {'-' * max(4, 94 - len(relative))}", text]
        exported = self.exported_names()
        aliases = [f"{name} = {flat}" for name, flat in exported if name != flat]
        lines += ["", "", *aliases, f"__all__ = {[name for name, _ in exported]!r}", ""]
        return "\n".join(lines)

    def render_imports(self) -> list[str]:
        plain, grouped = set(), {}
        for identity in self.ext_order:
            flat, (_, kind, target, dotted) = self.flat[identity], identity
            if kind == "import" and flat != target:
                raise RemoteCodeError(f"`import {dotted}` binds {target!r}, which another module binds to something "
                                      "else; use `import ... as name`.")
            if kind == "from":
                grouped.setdefault(target, []).append(dotted if flat == dotted else f"{dotted} as {flat}")
            elif kind == "import":
                plain.update(f"import {name}" for name in self.source.dotted_imports.get(target, {target}))
            else:
                plain.add(f"import {dotted}" if flat == dotted else f"import {dotted} as {flat}")
        lines = sorted(plain) + [_from_import(source, names) for source, names in grouped.items()]
        siblings: dict[str, list[str]] = {}
        for identity in self.sibling_imports:
            name, flat = self.sibling_names[identity], self.flat[identity]
            siblings.setdefault(self.placed[identity[1]], []).append(name if name == flat else f"{name} as {flat}")
        return lines + [_from_import(f".{target}", names) for target, names in siblings.items()]

    def exported_names(self) -> list[tuple[str, str]]:
        """(public name, flat name) for the names of the package's `__all__`; a renamed one keeps its public name
        through an alias when that name is free."""
        root, table = self.source.module(self.root), self.source.table(self.root)
        exported = []
        for node in root.tree.body:
            if isinstance(node, ast.Assign) and _is_all_assignment(node):
                for name in ast.literal_eval(node.value):
                    if name in table and table[name] in self.flat:
                        flat = self.flat[table[name]]
                        exported.append((name if name == flat or name not in self.owner else flat, flat))
        return exported

    def render_module(self, module: _Module) -> str:
        edits = _Edits(module.source)
        renames = self.renames[module.name]
        shims: dict[int, tuple[ast.stmt, list[str]]] = {}
        drops = [stmt for stmt in _module_level_statements(module.tree.body)
                 if _is_all_assignment(stmt) or self.is_hoisted(module, stmt)]
        for stmt, alias, identity, _ in self.source.package_imports(module):
            if identity[0] == "module":
                shims.setdefault(id(stmt), (stmt, []))[1].append(self.namespace_shim(module, alias, identity))
            elif all(stmt is not dropped for dropped in drops):
                drops.append(stmt)
        for stmt, assignments in shims.values():
            edits.replace_statement(stmt, "; ".join(assignments))
        for stmt in _module_level_statements(module.tree.body):
            if isinstance(stmt, (ast.Import, ast.ImportFrom)) and stmt not in drops and id(stmt) not in shims \
                    and any((a.asname or a.name.split(".")[0]) in renames for a in stmt.names):
                edits.replace_statement(stmt, _reimport(stmt, renames))
        edits.drop_statements(module.tree, drops)
        for start, end, name in _global_references(module.tree, set(renames), edits):
            edits.add(start, end, renames[name])
        return _squeeze_blank_lines(edits.apply())

    def is_hoisted(self, module: _Module, stmt: ast.stmt) -> bool:
        if _is_future(stmt):
            return True
        if not isinstance(stmt, (ast.Import, ast.ImportFrom)) or not any(stmt is top for top in module.tree.body):
            return False
        table = self.source.table(module.name)
        return all(table[alias.asname or alias.name.split(".")[0]][0] == "ext" for alias in stmt.names)

    def namespace_shim(self, module: _Module, alias: ast.alias, identity: tuple) -> str:
        """`from . import norms` becomes `norms = types.SimpleNamespace(build_norm=build_norm, ...)`."""
        members = ", ".join(f"{name}={self.flat[ident]}" for name, ident in self.source.table(identity[1]).items()
                            if ident in self.flat)
        bound = alias.asname or alias.name.rpartition(".")[2]
        return f"{self.renames[module.name].get(bound, bound)} = {self.flat[_TYPES]}.SimpleNamespace({members})"


def _from_import(source: str, names: list[str]) -> str:
    line = f"from {source} import {', '.join(names)}"
    return line if len(line) <= 119 else f"from {source} import (\n" + "".join(f"    {n},\n" for n in names) + ")"


def _squeeze_blank_lines(text: str) -> str:
    """At most two blank lines in a row (dropped imports leave gaps), unless that would change the code."""
    squeezed = re.sub(r"\n(?:[ \t]*\n){3,}", "\n\n\n", text)
    return squeezed if ast.dump(ast.parse(squeezed)) == ast.dump(ast.parse(text)) else text


def _same_object(first: tuple, second: tuple) -> bool:
    """Two third-party import identities that bind the very same object (e.g. a class re-exported elsewhere)."""
    if first[0] != "ext" or second[0] != "ext":
        return False
    try:
        return _ext_object(first) is _ext_object(second)
    except Exception:  # noqa: BLE001 - an import that fails here is simply not merged
        return False


def _ext_object(identity: tuple):
    _, kind, target, dotted = identity
    if kind == "from":
        return getattr(importlib.import_module(target), dotted)
    return importlib.import_module(target if kind == "import" else dotted)


def _reimport(stmt: ast.Import | ast.ImportFrom, renames: dict[str, str]) -> str:
    """A third-party import kept in place, re-bound to renamed flat names."""
    parts = []
    for alias in stmt.names:
        bound = alias.asname or alias.name.split(".")[0]
        if bound in renames and isinstance(stmt, ast.Import) and alias.asname is None and "." in alias.name:
            raise RemoteCodeError(f"line {stmt.lineno}: `import {alias.name}` binds a clashing name; use `as`.")
        parts.append(f"{alias.name} as {renames[bound]}" if bound in renames else ast.unparse(alias))
    head = "import" if isinstance(stmt, ast.Import) else f"from {'.' * stmt.level}{stmt.module or ''} import"
    return f"{head} {', '.join(parts)}"


# ---------------------------------------------------------------------------------------------- text edits
class _Edits:
    """Non-overlapping replacements in a source text, addressed by AST positions (UTF-8 byte columns)."""

    def __init__(self, source: str):
        self.source = source
        self.lines = source.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))
        self.edits: list[tuple[int, int, str]] = []

    def offset(self, line: int, byte_col: int) -> int:
        text = self.lines[line - 1] if line - 1 < len(self.lines) else ""
        return self.starts[line - 1] + len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        return self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset)

    def add(self, start: int, end: int, text: str) -> None:
        """Record a replacement, unless it overlaps one recorded before (a rename inside a dropped import)."""
        if not any(s < end and start < e or s == start for s, e, _ in self.edits):
            self.edits.append((start, end, text))

    def whole_lines(self, node: ast.stmt) -> tuple[int, int] | None:
        """The span of the lines `node` fills alone (a trailing comment goes with it), else None."""
        start, end = self.span(node)
        line_start, line_end = self.starts[node.lineno - 1], self.starts[node.end_lineno]
        after = self.source[end:line_end].strip()
        if self.source[line_start:start].strip() or (after and not after.startswith("#")):
            return None
        return line_start, line_end

    def replace_statement(self, stmt: ast.stmt, text: str) -> None:
        lines = self.whole_lines(stmt)
        if lines is None:
            self.add(*self.span(stmt), text)
        else:
            self.add(lines[0], lines[1], self.source[lines[0]:self.span(stmt)[0]] + text + "\n")

    def drop_statements(self, tree: ast.Module, drops: list[ast.stmt]) -> None:
        """Remove `drops`; a block left empty keeps a `pass` (the module body itself may end up empty)."""
        dropped = {id(stmt) for stmt in drops}
        keep_pass = set()
        for node in ast.walk(tree):
            for name in _BLOCK_FIELDS:
                block = getattr(node, name, None)
                if node is not tree and isinstance(block, list) and block and isinstance(block[0], ast.stmt) \
                        and all(id(stmt) in dropped for stmt in block):
                    keep_pass.add(id(block[0]))
        for stmt in drops:
            lines = self.whole_lines(stmt)
            if id(stmt) in keep_pass or lines is None:
                self.replace_statement(stmt, "pass")
            else:
                self.add(*lines, "")

    def apply(self) -> str:
        text = self.source
        for start, end, replacement in sorted(self.edits, reverse=True):
            text = text[:start] + replacement + text[end:]
        return text


def _local_names(scope: ast.AST) -> set[str]:
    """Names local to a function, lambda, comprehension or class body (minus `global` declarations)."""
    if isinstance(scope, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        return {name for generator in scope.generators for name in _stored_names(generator.target)}
    args = getattr(scope, "args", None)
    bound = {node.arg for node in ast.walk(args) if isinstance(node, ast.arg)} if args else set()
    declared = set()
    for stmt in scope.body if isinstance(scope.body, list) else [scope.body]:
        for node in _walk_scope(stmt):
            if isinstance(node, ast.Global):
                declared.update(node.names)
            elif isinstance(node, _DEFS):
                bound.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                bound.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                bound.add(node.id)
    return bound - declared


def _global_references(tree: ast.Module, names: set[str], edits: _Edits) -> list[tuple[int, int, str]]:
    """(start, end, name) of every reference to the module-level `names`; names a local scope rebinds are skipped."""
    found = []

    def name_after(node: ast.AST, keyword: str, name: str) -> None:
        match = re.compile(rf"\b{keyword}\b[\s\S]*?\b({re.escape(name)})\b").search(
            edits.source, edits.offset(node.lineno, node.col_offset))
        found.append((match.start(1), match.end(1), name))

    def visit(node: ast.AST, shadowed: frozenset, class_outer: frozenset | None = None) -> None:
        # class_outer: set while visiting a class body; the scope that the class's methods close over
        if isinstance(node, ast.Name):
            if node.id in names and node.id not in shadowed:
                found.append((*edits.span(node), node.id))
        elif isinstance(node, _DEFS):
            if node.name in names and node.name not in shadowed and class_outer is None:
                name_after(node, "class" if isinstance(node, ast.ClassDef) else "def", node.name)
            outside = [*node.decorator_list, *getattr(node, "bases", []), *getattr(node, "keywords", [])]
            if not isinstance(node, ast.ClassDef):
                args = node.args
                outside += [*args.defaults, *filter(None, args.kw_defaults), *filter(None, [node.returns])]
                outside += [a.annotation for a in ast.walk(args) if isinstance(a, ast.arg) and a.annotation]
            for child in outside:
                visit(child, shadowed)
            inner = shadowed | _local_names(node)
            for stmt in node.body:
                if isinstance(node, ast.ClassDef):
                    visit(stmt, inner, class_outer=shadowed)
                else:
                    visit(stmt, (class_outer if class_outer is not None else shadowed) | _local_names(node))
        elif isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            for child in ast.iter_child_nodes(node):
                visit(child, shadowed | _local_names(node))
        else:
            if isinstance(node, ast.Global):
                for name in set(node.names) & names:
                    name_after(node, "global", name)
            for child in ast.iter_child_nodes(node):
                visit(child, shadowed, class_outer)

    for stmt in tree.body:
        visit(stmt, frozenset())
    return found


# ---------------------------------------------------------------------------------------------- entry point
def generate_remote_code(package_dir: str | Path | None = None, version: str | None = None) -> RemoteCode:
    """Flatten `REMOTE_PACKAGES` into self-contained modules (see the module docstring).

    `package_dir` is the source folder of the `variformer` package (default: the installed package); `version`
    goes into the files' header (default: the installed version).
    """
    if package_dir is None:
        spec = importlib.util.find_spec(PACKAGE)
        if spec is None or spec.origin is None:
            raise RemoteCodeError(f"cannot locate the source of the installed {PACKAGE!r} package.")
        package_dir = Path(spec.origin).parent
    if version is None:
        from .. import __version__ as version

    source = _Source(Path(package_dir))
    placed: dict[str, str] = {}
    modules_of: dict[str, list[_Module]] = {}
    for stem, package in REMOTE_PACKAGES.items():
        modules_of[stem] = source.ordered_modules(package, set(placed))
        placed.update({module.name: stem for module in modules_of[stem]})

    files, locations, sibling_names = {}, {}, {}
    for stem, package in REMOTE_PACKAGES.items():
        flat_file = _FlatFile(source, stem, package, modules_of[stem], placed, dict(sibling_names))
        flat_file.assign_names()
        files[f"{stem}.py"] = flat_file.render(version)
        for identity, flat in flat_file.flat.items():
            if identity[0] == "def" and placed[identity[1]] == stem:
                sibling_names[identity] = flat
                locations[(identity[1], identity[2])] = f"{stem}.{flat}"
    for name, text in files.items():
        _check_self_contained(name, text)
    return RemoteCode(files=files, locations=locations)


def _check_self_contained(file_name: str, source: str) -> None:
    """The generated file compiles and imports nothing of the package and no relative module but its siblings."""
    try:
        tree = ast.parse(source, file_name)
        compile(tree, file_name, "exec")
    except SyntaxError as err:
        raise RemoteCodeError(f"generated {file_name} does not compile (line {err.lineno}): {err.msg}.") from err
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level and (node.level > 1 or node.module not in REMOTE_PACKAGES):
            raise RemoteCodeError(f"generated {file_name}:{node.lineno} keeps the relative import "
                                  f"{'.' * node.level}{node.module or ''}.")
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        names += [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
        if any(_is_package_name(name) for name in names):
            raise RemoteCodeError(f"generated {file_name}:{node.lineno} still imports {PACKAGE}.")


__all__ = ["REMOTE_PACKAGES", "RemoteCode", "RemoteCodeError", "generate_remote_code"]
