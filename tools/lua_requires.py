#!/usr/bin/env python3
"""Require cycles in the embedded Lua library: every require (at the top or
inside a function) of every module under src/lua/mlxbench, as a graph; a
cycle is printed as "a -> b -> a" and makes the exit status 1.
Usage: tools/lua_requires.py [ROOT]  (default: the repository)"""
import glob
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
base = os.path.join(root, "src", "lua")
graph = {}
for f in glob.glob(os.path.join(base, "mlxbench", "**", "*.lua"), recursive=True):
    name = os.path.relpath(f, base)[:-4].replace(os.sep, ".")
    name = re.sub(r"\.init$", "", name)
    src = re.sub(r"--\[(=*)\[.*?\]\1\]|--[^\n]*", "", open(f, encoding="utf-8").read(), flags=re.S)
    graph[name] = sorted(set(re.findall(r'require\s*\(?\s*["\']([\w.]+)["\']', src)) - {name})

cycles, state = [], {}


def visit(n, stack):
    state[n] = 1
    stack.append(n)
    for m in graph.get(n, ()):
        if m not in graph:
            continue
        if state.get(m) == 1:
            cycles.append(stack[stack.index(m):] + [m])
        elif not state.get(m):
            visit(m, stack)
    stack.pop()
    state[n] = 2


for n in sorted(graph):
    if not state.get(n):
        visit(n, [])
for c in cycles:
    print(" -> ".join(c))
print("lua requires: %d modules, %d cycles" % (len(graph), len(cycles)))
sys.exit(1 if cycles else 0)
