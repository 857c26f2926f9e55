#!/usr/bin/env python3
"""Fails when a module of the crate imports another that imports it back (directly or round a
longer circle), at two levels:

- the top-level modules (api, store, db, domain, error, auth, ...): the layers;
- every module (one per file, e.g. api::bookings, store::attendances).

A module's references are every `crate::...` and `super::...` path in its file (use lines and
paths in code), resolved to the longest module prefix that exists. A module naming its own
descendant or ancestor is containment (a parent registers its children's routes, a child uses
its parent's state), not an import circle, and is left out of the second level.

Usage: python3 .ci/module_cycles.py [src]   (exit 1 and the circles on stderr when any exist)
"""

import os
import re
import sys

SRC = sys.argv[1] if len(sys.argv) > 1 else "src"


def module_of(path):
    rel = os.path.relpath(path, SRC)[: -len(".rs")]
    parts = rel.split(os.sep)
    if parts[-1] == "mod":
        parts = parts[:-1]
    if parts in (["lib"], ["main"]):
        return ()
    return tuple(parts)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def expand_braces(path):
    """`crate::db::{self, types::DbTime}` -> [crate::db, crate::db::types::DbTime] (one level deep
    is enough: nested groups resolve to their prefix)."""
    match = re.match(r"^(.*?)::\{(.*)\}$", path, flags=re.S)
    if not match:
        return [path]
    prefix, inner = match.groups()
    items, depth, current = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            items.append(current)
            current = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        current += ch
    items.append(current)
    out = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        if item == "self":
            out.append(prefix)
        else:
            out.extend(expand_braces(prefix + "::" + re.sub(r"\s+", "", item)))
    return out


def references(module, text):
    refs = set()
    for use in re.findall(r"\buse\s+([^;]+);", text, flags=re.S):
        for path in expand_braces(re.sub(r"\s+", "", use)):
            refs.add(path)
    for path in re.findall(r"\b((?:crate|super)(?:::\w+)+)", text):
        refs.add(path)
    resolved = set()
    for path in refs:
        parts = path.split("::")
        if parts[0] == "crate":
            parts = parts[1:]
        elif parts[0] == "super":
            base = list(module)
            while parts and parts[0] == "super":
                base = base[:-1]
                parts = parts[1:]
            parts = base + parts
        else:
            continue
        resolved.add(tuple(p for p in parts if p not in ("self", "*")))
    return resolved


def longest_module(path, modules):
    for n in range(len(path), -1, -1):
        if path[:n] in modules:
            return path[:n]
    return ()


def cycles(edges):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on_stack, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main():
    files = {}
    for root, _, names in os.walk(SRC):
        for name in names:
            if name.endswith(".rs"):
                path = os.path.join(root, name)
                files[module_of(path)] = strip_comments(open(path, encoding="utf-8").read())
    modules = set(files)
    fine, top = {}, {}
    for module, text in files.items():
        if not module:
            continue
        for ref in references(module, text):
            target = longest_module(ref, modules)
            if not target or target == module:
                continue
            if target[0] != module[0]:
                top.setdefault(module[0], set()).add(target[0])
            contained = target[: len(module)] == module or module[: len(target)] == target
            if not contained:
                fine.setdefault(module, set()).add(target)
    failed = False
    for level, edges in (("top-level modules", top), ("modules", fine)):
        for component in cycles(edges):
            failed = True
            names = ["::".join(m) if isinstance(m, tuple) else m for m in component]
            print(f"module_cycles: import circle among {level}: {', '.join(names)}", file=sys.stderr)
            for m in component:
                back = sorted(edges.get(m, set()) & set(component))
                print(f"    {m if isinstance(m, str) else '::'.join(m)} -> "
                      f"{', '.join(b if isinstance(b, str) else '::'.join(b) for b in back)}", file=sys.stderr)
    if failed:
        return 1
    tops = {m[0] for m in modules if m}
    print(f"module_cycles: no import circles among {len(tops)} top-level modules and {len(modules)} modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
