#!/usr/bin/env python3
"""The dependency graph between the source files of common/, focus/ and bridge/, read from
what the compiler produced in a build folder: file A depends on file B when A's object calls
a function B's object defines (nm), or A includes B's header (ninja -t deps).
Prints the edges, then every circle (a strongly connected component of more than one file),
and fails on a circle that is not allowed below. Usage: module-graph.py BUILD_DIR [--edges]"""

import json
import os
import re
import subprocess
import sys

# The one circle the layout allows: on the bridge's data path an endpoint hands what it
# receives to the router, which sends it out through the other endpoints. (A focus
# conference and its participants could call each other; today they need not.)
ALLOWED = [{"bridge/endpoint.c", "bridge/router.c"}]
FOLDERS = ("common/", "focus/", "bridge/")


def module_of(source):
    """'../focus/media/conference.c' -> 'focus/media/conference.c', or None outside FOLDERS."""
    source = os.path.normpath(source)
    while source.startswith("../"):
        source = source[3:]
    if not source.startswith(FOLDERS) or not source.endswith((".c", ".h")):
        return None
    return source


def object_sources(build):
    """object path -> module, from the compile commands."""
    with open(os.path.join(build, "compile_commands.json")) as f:
        commands = json.load(f)
    objects = {}
    for c in commands:
        module = module_of(os.path.relpath(os.path.join(c["directory"], c["file"]), build))
        if module is not None:
            objects[os.path.normpath(os.path.join(build, c["output"]))] = module
    return objects


def symbol_edges(objects):
    defined, used = {}, {}
    for obj, module in objects.items():
        if not os.path.exists(obj):
            continue
        out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True)
        for line in out.stdout.splitlines():
            m = re.match(r"^\s*(?:[0-9a-f]+)?\s+([A-Za-z])\s+(\S+)$", line)
            if not m:
                continue
            kind, name = m.groups()
            if kind == "U":
                used.setdefault(module, set()).add(name)
            elif kind in "TDBR":
                defined[name] = module
    edges = set()
    for module, names in used.items():
        for name in names:
            other = defined.get(name)
            if other is not None and other != module:
                edges.add((module, other))
    return edges


def include_edges(root):
    """The #include "..." lines of every source and header (header names are unique)."""
    files = []
    for folder in FOLDERS:
        for dirpath, _, names in os.walk(os.path.join(root, folder)):
            files += [os.path.relpath(os.path.join(dirpath, n), root) for n in names
                      if n.endswith((".c", ".h"))]
    by_name = {os.path.basename(f): f for f in files if f.endswith(".h")}
    edges = set()
    for f in files:
        with open(os.path.join(root, f)) as text:
            for line in text:
                m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                target = by_name.get(os.path.basename(m.group(1))) if m else None
                if target is not None and target != f:
                    edges.add((f, target))
    return edges


def circles(nodes, edges):
    """Strongly connected components of more than one node (Tarjan)."""
    graph = {n: [] for n in nodes}
    for a, b in edges:
        graph[a].append(b)
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    sys.setrecursionlimit(10000)
    for n in sorted(graph):
        if n not in index:
            visit(n)
    return found


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    build = os.path.abspath(sys.argv[1])
    objects = object_sources(build)
    with open(os.path.join(build, "meson-info", "meson-info.json")) as f:
        root = json.load(f)["directories"]["source"]
    edges = symbol_edges(objects) | include_edges(root)
    nodes = {a for a, _ in edges} | {b for _, b in edges}
    if "--edges" in sys.argv:
        for a, b in sorted(edges):
            print(f"# {a} -> {b}")
    found = circles(nodes, edges)
    bad = [c for c in found if c not in ALLOWED]
    print("1..1")
    for c in found:
        print(f"# circle{'' if c in ALLOWED else ' (not allowed)'}: {' <-> '.join(sorted(c))}")
    status = "ok" if not bad and edges else "not ok"
    print(f"{status} 1 - {len(nodes)} files, {len(edges)} dependencies, "
          f"{len(found)} circle(s), {len(bad)} not allowed")
    return 0 if status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
