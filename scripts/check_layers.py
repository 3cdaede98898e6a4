#!/usr/bin/env python3
"""Check the #include structure of modules/ and lib/ against docs/ARCHITECTURE.md.

Why: the code is split into folders stacked in layers (lib at the bottom, the
modules on top).  A lower layer must never include a higher one, and no file may
depend on itself through others, or the layers stop meaning anything and the
code can no longer be built, tested or reused piece by piece.

What it checks:
  * the table between `<!-- layers -->` and `<!-- /layers -->` in
    docs/ARCHITECTURE.md: one row per folder holding C sources, naming (in
    backticks) the folders its files may include besides its own.  The table
    must be well formed, name existing folders, cover every C source folder and
    not be cyclic itself.  Problems here exit with status 2.
  * every `#include "..."` in the .c/.h files under modules/ and lib/ (angle
    brackets are system headers).  An include is resolved relative to the
    including file first, then by the basename of its last component, since the
    build uses one flat -I list; two headers sharing a basename are therefore
    an error, and so is an unresolved chat_*/admin_* include.  Other unresolved
    names are system or generated headers and are ignored.
  * no cycles between nodes, a node being folder/stem (x.c and x.h are one
    node): one concrete cycle is printed per strongly connected component.
  * no include crossing into a folder the including folder's row does not
    list.  The relation is not transitive: only listed folders are allowed.
Problems in the code exit with status 1, a clean tree with 0.
"""
import argparse
import collections
import os
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
TICKED = re.compile(r"`([^`]+)`")
SKIP_DIRS = {".libs", ".deps"}
SCANNED = ("modules", "lib")


class TableError(Exception):
    pass


def folder_path(text, where):
    path = text.strip().rstrip("/")
    if not path or path.startswith("/") or ".." in path.split("/"):
        raise TableError(f"{where}: bad folder `{text}`")
    return path


def read_table(root):
    """{folder: set of folders it may include}, from docs/ARCHITECTURE.md."""
    doc = root / "docs" / "ARCHITECTURE.md"
    if not doc.is_file():
        raise TableError(f"{doc} not found")
    lines = [line.strip() for line in doc.read_text(encoding="utf-8").splitlines()]
    if lines.count("<!-- layers -->") != 1 or lines.count("<!-- /layers -->") != 1:
        raise TableError(f"{doc}: need exactly one `<!-- layers -->` and one `<!-- /layers -->` line")
    start, end = lines.index("<!-- layers -->"), lines.index("<!-- /layers -->")
    rows = [(n + 1, line) for n, line in enumerate(lines) if start < n < end and line]
    if len(rows) < 3 or not set(rows[1][1]) <= set("|-: ") or "-" not in rows[1][1]:
        raise TableError(f"{doc}: no table (header, |---|---| line, rows) between the layer markers")
    table = {}
    for lineno, line in rows[2:]:
        where = f"{doc.name}:{lineno}"
        cells = line.strip("|").split("|")
        if not line.startswith("|") or len(cells) != 2:
            raise TableError(f"{where}: a row needs two cells: | `folder` | `a`, `b` |")
        folder = TICKED.fullmatch(cells[0].strip())
        if not folder:
            raise TableError(f"{where}: folder cell must be one `folder` in backticks")
        folder = folder_path(folder.group(1), where)
        allowed = set()
        if cells[1].strip() not in ("", "-", "—", "–"):
            for item in cells[1].split(","):
                m = TICKED.fullmatch(item.strip())
                if not m:
                    raise TableError(f"{where}: may-include entry {item.strip()!r} is not a `folder`")
                allowed.add(folder_path(m.group(1), where))
        if folder in table:
            raise TableError(f"{where}: folder `{folder}` has two rows")
        for f in {folder} | allowed:
            if not (root / f).is_dir():
                raise TableError(f"{where}: folder `{f}` does not exist")
        table[folder] = allowed
    for scc in cyclic_components(table):
        chain = " -> ".join(find_cycle(scc, table))
        raise TableError(f"{doc.name}: the may-include relation is cyclic: {chain}")
    return table


def cyclic_components(graph):
    """Tarjan's algorithm: the SCCs with a cycle (several nodes, or a self-loop)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = set()
            while v not in scc:
                scc.add(stack.pop())
            on_stack.difference_update(scc)
            if len(scc) > 1 or v in graph.get(v, ()):
                found.append(scc)

    sys.setrecursionlimit(max(10000, sys.getrecursionlimit()))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def find_cycle(scc, graph):
    """One cycle through the SCC's first node: a DFS that stays inside the SCC."""
    start = min(scc)
    path, seen = [start], {start}

    def dfs(v):
        for w in sorted(graph.get(v, ())):
            if w == start:
                return True
            if w in scc and w not in seen:
                seen.add(w)
                path.append(w)
                if dfs(w):
                    return True
                path.pop()
        return False

    dfs(start)
    return path + [start]


def scan(root):
    """Relative posix paths of the .c/.h files under modules/ and lib/."""
    files = []
    for top in SCANNED:
        for dirpath, dirnames, filenames in os.walk(root / top):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
            rel = pathlib.Path(dirpath).relative_to(root).as_posix()
            files += [f"{rel}/{f}" for f in sorted(filenames) if f.endswith((".c", ".h"))]
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=pathlib.Path, default=pathlib.Path(__file__).resolve().parent.parent)
    root = parser.parse_args().root.resolve()
    files = scan(root)
    folder = {f: f.rsplit("/", 1)[0] for f in files}
    try:
        table = read_table(root)
        missing = sorted(set(folder.values()) - set(table))
        if missing:
            raise TableError("ARCHITECTURE.md: no row in the layer table for C source folder(s) "
                             + ", ".join(f"`{f}`" for f in missing))
    except TableError as e:
        print(f"check_layers: {e}", file=sys.stderr)
        return 2

    by_name = collections.defaultdict(list)
    for f in files:
        by_name[f.rsplit("/", 1)[1]].append(f)
    errors = [f"ambiguous header name: {name} is {' and '.join(sorted(paths))}"
              for name, paths in sorted(by_name.items()) if name.endswith(".h") and len(paths) > 1]
    layers, includes = [], 0
    graph, witness = collections.defaultdict(set), {}
    for f in files:
        text = (root / f).read_text(encoding="utf-8", errors="replace")
        for lineno, line in enumerate(text.splitlines(), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            name = m.group(1)
            relative = os.path.normpath(f"{folder[f]}/{name}")
            candidates = [relative] if relative in folder else by_name.get(name.rsplit("/", 1)[-1], [])
            if not candidates:
                if name.rsplit("/", 1)[-1].startswith(("chat_", "admin_")):
                    errors.append(f"unresolved include: {f}:{lineno} includes {name}")
                continue
            if len(candidates) > 1:
                continue  # reported as an ambiguous header name
            target = candidates[0]
            includes += 1
            src, dst = f.rsplit(".", 1)[0], target.rsplit(".", 1)[0]
            if src != dst:
                graph[src].add(dst)
                witness.setdefault((src, dst), f"{f}:{lineno} includes {name}")
            F, G = folder[f], folder[target]
            if F != G and G not in table[F]:
                layers.append(f"layer: {f}:{lineno} includes {name} ({G}), which {F} may not include")

    cycles = cyclic_components(graph)
    for scc in cycles:
        chain = find_cycle(scc, graph)
        print("cycle: " + " -> ".join(chain))
        for a, b in zip(chain, chain[1:]):
            print(f"    ({witness[a, b]})")
    for line in layers + errors:
        print(line)
    summary = f"include layers: {len(files)} files, {includes} includes, {len(cycles)} cycles, {len(layers)} layer violations"
    print(summary + (f", {len(errors)} header errors" if errors else ""))
    return 1 if cycles or layers or errors else 0


if __name__ == "__main__":
    sys.exit(main())
