#!/usr/bin/env python3
"""docs/c-api.md must document nbcore.h as it is.

    check_doc.py HEADER DOC

Fails, listing every problem, when
  - a function declared in the header (NBC_API(type) name(...);) has no prototype in the doc;
  - the doc gives a prototype (in a fenced code block) for a function the header does not
    declare, or one whose signature differs from the header's (whitespace is normalised, every
    other token must match);
  - a constant the header defines (#define NBC_...) is never named in the doc;
  - the doc names an NBC_* constant or an nbc_* identifier the header does not define, or a
    family (nbc_job_*, NBC_E_*) of which the header has no member;
  - a table row pairs a constant with a value that is not the header's.

Needs Python 3 and its standard library only; it reads two text files and builds nothing.
"""

import re
import sys

# Macros of the header's own plumbing: not part of what a caller uses.
PLUMBING = {"NBC_EXTERN_DECL"}

TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+|\S")
PROTOTYPE = re.compile(r"\bNBC_API\s*\(([^()]*)\)\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(([^;{}]*?)\)\s*;", re.S)
DEFINE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+(NBC_[A-Z0-9_]+)(\([^)]*\))?[ \t]*(.*)$", re.M)
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
INTEGER = re.compile(r"^\(?\s*(-?\d+)[uUlL]*\s*\)?$")


def strip_c_comments(text):
    """Removes /* */ and // comments, keeping string literals intact."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))   # keep line structure for #define parsing
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def signature(ret, name, params):
    """The tokens of a declaration, so that spacing and line breaks do not matter."""
    return " ".join(TOKEN.findall("NBC_API(%s) %s(%s);" % (ret, name, params)))


def readable(ret, name, params):
    """The declaration on one line, for messages."""
    return re.sub(r"\s+", " ", "NBC_API(%s) %s(%s);" % (ret.strip(), name, params.strip()))


def join_continuations(text):
    return re.sub(r"\\\n", " ", text)


def parse_header(path):
    with open(path, encoding="utf-8") as f:
        raw = f.read()
    code = join_continuations(strip_c_comments(raw))
    functions = {}
    for m in PROTOTYPE.finditer(code):
        line_start = code.rfind("\n", 0, m.start()) + 1
        if code[line_start:m.start()].lstrip().startswith("#"):
            continue   # the NBC_API macro's own definition
        ret, name, params = m.group(1), m.group(2), m.group(3)
        functions[name] = (signature(ret, name, params), readable(ret, name, params))
    macros = {}
    for m in DEFINE.finditer(code):
        name, value = m.group(1), m.group(3).strip()
        if name in PLUMBING or name == "NBC_API":
            continue
        v = INTEGER.match(value)
        macros[name] = int(v.group(1)) if v else None
    identifiers = set(re.findall(r"\bnbc_[a-z0-9_]+\b", code))
    return functions, macros, identifiers


def parse_doc(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    prototypes = []   # (name, tokens, one-line text, line number)
    for block in FENCE.finditer(text):
        body = block.group(1)
        base = text.count("\n", 0, block.start(1)) + 1
        for m in PROTOTYPE.finditer(body):
            line = base + body.count("\n", 0, m.start())
            ret, name, params = m.group(1), m.group(2), m.group(3)
            prototypes.append((name, signature(ret, name, params), readable(ret, name, params), line))
    return text, prototypes


def line_of(text, pos):
    return text.count("\n", 0, pos) + 1


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    header_path, doc_path = argv[1], argv[2]
    functions, macros, identifiers = parse_header(header_path)
    text, prototypes = parse_doc(doc_path)
    if not functions:
        print("check_doc: no NBC_API declarations found in %s" % header_path, file=sys.stderr)
        return 2

    problems = []
    for name, sig, text_sig, line in prototypes:
        if name not in functions:
            problems.append("%s:%d: documents %s, which nbcore.h does not declare" % (doc_path, line, name))
        elif sig != functions[name][0]:
            problems.append("%s:%d: the prototype of %s differs from nbcore.h\n    doc:    %s\n    header: %s"
                            % (doc_path, line, name, text_sig, functions[name][1]))
    doc_names = {p[0] for p in prototypes}
    for name in functions:
        if name not in doc_names:
            problems.append("%s: no entry for %s; give its prototype in a code block, as nbcore.h has it:\n    %s"
                            % (doc_path, name, functions[name][1]))

    # Constants: every one the header defines is named; none the header lacks is.
    named = {}
    # (A family such as NBC_E_* never matches: the name must end in a letter or digit.)
    for m in re.finditer(r"\bNBC_[A-Z0-9_]*[A-Z0-9]\b", text):
        named.setdefault(m.group(0), line_of(text, m.start()))
    for name in sorted(macros):
        if name not in named:
            problems.append("%s: the constant %s is not documented" % (doc_path, name))
    for name, line in sorted(named.items(), key=lambda kv: kv[1]):
        if name not in macros and name not in PLUMBING and name != "NBC_API":
            problems.append("%s:%d: names %s, which nbcore.h does not define" % (doc_path, line, name))

    # Identifiers: every nbc_* name in the doc exists in the header (a stale prototype is reported
    # above already), and a family written with a star (nbc_job_*, NBC_E_*) still has members.
    unknown = {}
    for m in re.finditer(r"\bnbc_[a-z0-9_]+\b(\*?)", text):
        name = m.group(0).rstrip("*")
        if m.group(1):
            known = any(i.startswith(name) for i in identifiers)
        else:
            known = name in identifiers or name in doc_names
        if not known:
            unknown.setdefault(m.group(0), []).append(line_of(text, m.start()))
    for m in re.finditer(r"\bNBC_[A-Z0-9_]*_\*", text):
        if not any(k.startswith(m.group(0).rstrip("*")) for k in macros):
            unknown.setdefault(m.group(0), []).append(line_of(text, m.start()))
    for name, lines in unknown.items():
        problems.append("%s:%s: names %s, which nbcore.h does not define"
                        % (doc_path, ",".join(str(n) for n in lines), name))

    # Table rows that give a constant's value: | `NBC_X` | 3 | ...
    for m in re.finditer(r"^\|\s*`(NBC_[A-Z0-9_]+)`\s*\|\s*(-?\d+)\s*\|", text, re.M):
        name, value = m.group(1), int(m.group(2))
        if name in macros and macros[name] is not None and macros[name] != value:
            problems.append("%s:%d: gives %s the value %d; nbcore.h says %d"
                            % (doc_path, line_of(text, m.start()), name, value, macros[name]))

    if problems:
        print("docs/c-api.md does not match nbcore.h (%d problem%s):"
              % (len(problems), "" if len(problems) == 1 else "s"), file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        return 1
    print("docs/c-api.md documents all %d functions and %d constants of nbcore.h, with matching prototypes"
          % (len(functions), len(macros)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
