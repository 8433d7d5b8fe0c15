#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check that module/'s files form layers: no file uses a file that uses it
back, directly or through others. "Uses" is what the linker sees: a symbol
one object file needs (nm -u) that another defines. That counts calls,
variables, the per-CPU counters kaio.h's inline functions touch and the
tracepoints (defined where CREATE_TRACE_POINTS is), and nothing a comment,
a string or a struct tag says. Build the objects first (make module, or
static-checks.sh's sparse pass).

Prints "file -> files it uses", then each circle with one symbol for each
of its edges. Exit status: 0 none, 1 a circle, 2 the objects could not be
read or are older than their sources.

Usage: scripts/module-layers.py [module-dir]   (default: module)
"""
import os
import subprocess
import sys


def symbols(path, undefined):
    args = ['nm', '--undefined-only' if undefined else '--defined-only', path]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        fields = line.split()
        if undefined:
            names.add(fields[-1])
        elif len(fields) == 3 and fields[1].isupper():	# global only
            names.add(fields[2])
    return names


def main():
    moddir = sys.argv[1] if len(sys.argv) > 1 else 'module'
    owner, needs = {}, {}
    try:
        sources = sorted(n for n in os.listdir(moddir)
                         if n.endswith('.c') and not n.endswith('.mod.c'))
        headers = [os.path.join(moddir, n) for n in os.listdir(moddir)
                   if n.endswith('.h')]
        newest_header = max((os.path.getmtime(h) for h in headers), default=0)
        for name in sources:
            obj = os.path.join(moddir, name[:-2] + '.o')
            built = os.path.getmtime(obj)
            if built < max(os.path.getmtime(os.path.join(moddir, name)),
                           newest_header):
                print(f'module-layers.py: {obj} is older than its sources; '
                      'build first', file=sys.stderr)
                return 2
            for sym in symbols(obj, undefined=False):
                if sym in owner:
                    print(f'module-layers.py: {sym} is defined in {owner[sym]} '
                          f'and {name}', file=sys.stderr)
                owner[sym] = name
            needs[name] = symbols(obj, undefined=True)
    except (OSError, subprocess.CalledProcessError) as err:
        print(f'module-layers.py: cannot read the objects ({err}); build them first',
              file=sys.stderr)
        return 2

    uses = {name: set() for name in sources}
    why = {}	# (user, owner) -> one symbol that makes the edge
    for name in sources:
        for sym in sorted(needs[name]):
            other = owner.get(sym)
            if other and other != name:
                uses[name].add(other)
                why.setdefault((name, other), sym)
    for name in sources:
        if uses[name]:
            print(f'{name} -> {" ".join(sorted(uses[name]))}')

    # Tarjan's strongly connected components: any with two files or more
    # is a circle.
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(uses[v]):
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
                circles.append(sorted(component))

    for v in sources:
        if v not in index:
            visit(v)
    for component in circles:
        print('circle: ' + ', '.join(component))
        for a in component:
            for b in sorted(uses[a] & set(component)):
                print(f'  {a} -> {b} ({why[(a, b)]})')
    return 1 if circles else 0


if __name__ == '__main__':
    sys.exit(main())
