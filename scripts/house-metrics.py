#!/usr/bin/python3
"""Helpers of scripts/house-metrics.sh (the issue 12 before/after measures).

usage:
  house-metrics.py protos HEADER...       public functions declared in headers
  house-metrics.py warnings DIR FLAG...   unique warnings of the logs DIR/<flag>.log
  house-metrics.py coverage BUILD         line coverage per source folder
Run from the root of the tree being measured."""
import collections
import json
import os
import re
import subprocess
import sys


def strip_c(text):
    """Text without comments, string literals' contents nor preprocessor lines."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r'"(\\.|[^"\\\n])*"', '""', text)
    out = []
    cont = False
    for line in text.split("\n"):
        if cont or line.lstrip().startswith("#"):
            cont = line.rstrip().endswith("\\")
            continue
        out.append(line)
    return "\n".join(out)


def protos(headers):
    """Counts, per header, the function prototypes (top-level declarations,
    outside any braces, not typedefs, whose declarator is NAME(...)) and the
    inline function definitions (a top-level NAME(...) followed by a body)."""
    total_p = total_i = 0
    for h in headers:
        text = strip_c(open(h, encoding="utf-8", errors="replace").read())
        depth = 0
        stmt = []
        n_p = n_i = 0
        for ch in text:
            if ch == "{":
                if depth == 0:
                    head = " ".join("".join(stmt).split())
                    if re.search(r"\b[A-Za-z_]\w*\s*\([^;]*\)\s*$", head) and \
                            not head.startswith(("typedef", "struct", "enum", "union")) and "=" not in head:
                        n_i += 1
                    stmt = []
                depth += 1
                continue
            if ch == "}":
                depth -= 1
                if depth == 0:
                    stmt = []
                continue
            if depth:
                continue
            if ch == ";":
                s = " ".join("".join(stmt).split())
                stmt = []
                if s.startswith("typedef") or "=" in s:
                    continue
                # NAME( not preceded by '(' (a function pointer variable is (*NAME)(...))
                if re.search(r"(^|[\s*])[A-Za-z_]\w*\s*\(", s) and not re.search(r"\(\s*\*", s):
                    n_p += 1
                continue
            stmt.append(ch)
        total_p += n_p
        total_i += n_i
    print(f"{total_p} {total_i}")


WARN = re.compile(r"^(.+?):(\d+):(\d+): warning: .*\[(-W[^\]=]+)(=[^\]]*)?\]\s*$")


def warnings(logdir, flags):
    """One row per flag: unique (file:line:col, tag) warnings tagged with the
    flag itself, and all those the flag adds to the -Wall run, by tag."""
    def load(name):
        seen = set()
        with open(os.path.join(logdir, name + ".log"), errors="replace") as f:
            for line in f:
                m = WARN.match(line.rstrip("\n"))
                if m:
                    seen.add((os.path.normpath(m.group(1)), m.group(2), m.group(3), m.group(4)))
        return seen

    base = load("-Wall")
    print("| flag (with -Wall) | unique warnings tagged with the flag | all it adds to -Wall, by tag |")
    print("| --- | ---: | --- |")
    print(f"| -Wall alone | {len(base)} (any tag) | |")
    for flag in flags:
        run = load(flag)
        added = run - base
        tags = collections.Counter(w[3] for w in added)
        if flag == "-Wextra":
            own = len(added)
        else:
            own = sum(1 for w in run if w[3] == flag)
        detail = ", ".join(f"{t} {n}" for t, n in tags.most_common()) or "none"
        print(f"| {flag} | {own} | {len(added)}: {detail} |")
    errs = {}
    for name in ["-Wall"] + list(flags):
        with open(os.path.join(logdir, name + ".log"), errors="replace") as f:
            n = sum(1 for line in f if ": error:" in line)
        if n:
            errs[name] = n
    if errs:
        print()
        print("**Compile errors** (files that do not compile report fewer warnings): " +
              ", ".join(f"{k} run {v}" for k, v in errs.items()))


def coverage(build):
    """Runs gcov (JSON) on every .gcno under BUILD/obj and merges the lines of
    the source files under core/, store/, cmd/ (a line run by any object
    counts as run), then sums them per folder."""
    lines = {}
    roots = ("core", "store", "cmd")
    cwd = os.getcwd()
    for dirpath, _, files in os.walk(os.path.join(build, "obj")):
        for fn in sorted(files):
            if not fn.endswith(".gcno"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, fn), os.path.join(build, "obj"))
            if not rel.startswith(tuple(r + os.sep for r in roots)):
                continue
            out = subprocess.run(["gcov", "-j", "-t", os.path.join(dirpath, fn)],
                                 capture_output=True, text=True).stdout
            for doc in out.splitlines():
                doc = doc.strip()
                if not doc.startswith("{"):
                    continue
                data = json.loads(doc)
                wd = data.get("current_working_directory", cwd)
                for f in data["files"]:
                    path = os.path.relpath(os.path.normpath(os.path.join(wd, f["file"])), wd)
                    if not path.startswith(tuple(r + os.sep for r in roots)):
                        continue
                    for ln in f["lines"]:
                        key = (path, ln["line_number"])
                        lines[key] = max(lines.get(key, 0), ln["count"])
    per = collections.defaultdict(lambda: [0, 0])
    for (path, _), count in lines.items():
        d = os.path.dirname(path)
        per[d][1] += 1
        per[d][0] += count > 0
    tot = [sum(v[0] for v in per.values()), sum(v[1] for v in per.values())]
    print("| folder | lines run | lines | coverage |")
    print("| --- | ---: | ---: | ---: |")
    for d in sorted(per):
        run, n = per[d]
        print(f"| {d}/ | {run} | {n} | {100.0 * run / n:.1f} % |")
    if tot[1]:
        print(f"| **all** | {tot[0]} | {tot[1]} | {100.0 * tot[0] / tot[1]:.1f} % |")


def main(argv):
    if len(argv) >= 1 and argv[0] == "protos":
        protos(argv[1:])
    elif len(argv) >= 2 and argv[0] == "warnings":
        warnings(argv[1], argv[2:])
    elif len(argv) == 2 and argv[0] == "coverage":
        coverage(argv[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
