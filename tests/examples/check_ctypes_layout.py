#!/usr/bin/env python3
"""Checks examples/python-ctypes/nbcore_ctypes.py against nbcore.h as the C compiler lays it out.

    check_ctypes_layout.py LAYOUT_PROGRAM EXAMPLES_DIR

LAYOUT_PROGRAM (layout.c) prints "struct field offset size" per field in declaration order. Each
ctypes struct must declare a prefix of the C struct's fields, with the same names, offsets and
sizes. nbc_client_options may stop before fields appended to the header later (struct_size tells
the library which version the caller has); the record structs the library fills (nbc_attempt,
nbc_event, nbc_image_info, nbc_usage) must be declared whole, so their sizeof equals C's.
"""
import subprocess
import sys
from collections import defaultdict

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, sys.argv[2])
import nbcore_ctypes  # noqa: E402

PREFIX_ONLY = {"nbc_client_options"}

fields = defaultdict(list)
sizes = {}
for line in subprocess.run([sys.argv[1]], check=True, capture_output=True, text=True).stdout.splitlines():
    words = line.split()
    if words[0] == "sizeof":
        sizes[words[1]] = int(words[2])
    else:
        fields[words[0]].append((words[1], int(words[2]), int(words[3])))

errors = []
for cname, cls in nbcore_ctypes.STRUCTS.items():
    c_fields = fields[cname]
    py_fields = [(name, getattr(cls, name).offset, getattr(cls, name).size) for name, _ in cls._fields_]
    if len(py_fields) > len(c_fields):
        errors.append(f"{cname}: ctypes declares {len(py_fields)} fields, the header has {len(c_fields)}")
    for i, (py, c) in enumerate(zip(py_fields, c_fields)):
        if py != c:
            errors.append(f"{cname} field {i}: ctypes has {py} (name, offset, size), the header {c}")
    if cname not in PREFIX_ONLY and len(py_fields) != len(c_fields):
        errors.append(f"{cname}: ctypes declares {len(py_fields)} of the header's {len(c_fields)} fields")
    if cname not in PREFIX_ONLY and sizes[cname] != nbcore_ctypes.sizeof(cls):
        errors.append(f"{cname}: sizeof is {nbcore_ctypes.sizeof(cls)} in ctypes, {sizes[cname]} in C")
    print(f"{cname}: {len(py_fields)} of {len(c_fields)} fields match, ctypes sizeof {nbcore_ctypes.sizeof(cls)}"
          f" (C {sizes[cname]})")

for e in errors:
    print("MISMATCH", e, file=sys.stderr)
sys.exit(1 if errors else 0)
