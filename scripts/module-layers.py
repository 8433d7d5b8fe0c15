#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check that module/'s files form layers: no file uses (calls, or reads a
variable of) a file that uses it back, directly or through others. A
function or variable belongs to the .c file that defines it; comments and
strings do not count. Prints "file -> files it uses", then each circle;
exit status 1 if there is one.

Usage: scripts/module-layers.py [module-dir]   (default: module)
"""
import os
import re
import sys


def strip(text):
    """Source without comments and string or character literals."""
    pattern = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'',
                         re.S)
    return pattern.sub(lambda m: '\n' * m.group(0).count('\n'), text)


# A definition at file scope: not static, starts in column 0, and is either
# a function (its "(" ... then a "{" before any ";") or a variable.
FUNC_DEF = re.compile(r'^(?!static\b)[A-Za-z_][^;{}()]*?\b(kaio_\w+)\s*\([^;{]*\)\s*\{',
                      re.M)
VAR_DEF = re.compile(r'^(?!static\b|extern\b)(?:const\s+)?(?:struct\s+)?\w+[\s\*]+'
                     r'(kaio_\w+)\s*(?:\[[^\]]*\])?\s*(?:=[^;]*)?;', re.M)
PER_CPU_DEF = re.compile(r'^DEFINE_PER_CPU\([^,]+,\s*(kaio_\w+)\)', re.M)


def main():
    moddir = sys.argv[1] if len(sys.argv) > 1 else 'module'
    sources = {}
    for name in sorted(os.listdir(moddir)):
        if name.endswith('.c') and not name.endswith('.mod.c'):
            with open(os.path.join(moddir, name), encoding='utf-8') as f:
                sources[name] = strip(f.read())

    owner = {}
    for name, text in sources.items():
        for regex in (FUNC_DEF, VAR_DEF, PER_CPU_DEF):
            for m in regex.finditer(text):
                owner[m.group(1)] = name

    uses = {name: set() for name in sources}
    ident = re.compile(r'\bkaio_\w+\b')
    for name, text in sources.items():
        for word in set(ident.findall(text)):
            other = owner.get(word)
            if other and other != name:
                uses[name].add(other)

    for name in sorted(uses):
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

    for v in sorted(uses):
        if v not in index:
            visit(v)
    for component in circles:
        print('circle: ' + ', '.join(component))
    return 1 if circles else 0


if __name__ == '__main__':
    sys.exit(main())
