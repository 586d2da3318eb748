#!/usr/bin/python3
"""Lines of every C function definition in the given files, largest first.

A definition starts at a line in column 0 that is not a comment, preprocessor
line or declaration ending in ';', whose text up to the first '{' at column 0
is a function head; it ends at the next '}' in column 0. That is the project's
style (K&R braces for functions), so it needs no C parser.
A directory stands for the *.c files under it.
usage: scripts/function-sizes.py [-n N] [--over L] FILE|DIR..."""
import os
import re
import sys


def functions(path):
    lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    i = 0
    while i < len(lines):
        if lines[i] == "{" and i > 0:
            # the head: back to the line starting at column 0 with a '('
            j = i - 1
            while j > 0 and (lines[j].startswith((" ", "\t")) or lines[j] == ""):
                j -= 1
            head = " ".join(l.strip() for l in lines[j:i])
            m = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(", head)
            k = i + 1
            while k < len(lines) and lines[k] != "}":
                k += 1
            if m and not head.startswith(("#", "/*", "struct", "enum", "typedef", "static const", "const")) \
                    or (m and "(" in head and head.startswith("static const") and ")" in head and "=" not in head):
                yield m.group(1), path, j + 1, k - j + 1
            i = k
        i += 1


def sources(path):
    """`path`, or the *.c files under it when it is a directory."""
    if not os.path.isdir(path):
        return [path]
    return sorted(os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs if f.endswith(".c"))


def main(argv):
    n, over, files = 10, 0, []
    it = iter(argv)
    for a in it:
        if a == "-n":
            n = int(next(it))
        elif a == "--over":
            over = int(next(it))
        else:
            files.append(a)
    found = [f for a in files for p in sources(a) for f in functions(p)]
    found.sort(key=lambda f: -f[3])
    if over:
        found = [f for f in found if f[3] > over]
    else:
        found = found[:n]
    for name, path, line, size in found:
        print(f"{size:5d}  {name}  {path}:{line}")


if __name__ == "__main__":
    main(sys.argv[1:])
