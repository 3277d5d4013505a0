#!/usr/bin/env python3
"""Checks that Windows executables declare OS and subsystem version 6.1
(Windows 7 / Server 2008 R2) and the expected machine, so they load there.
usage: check_pe_header.py <exe> <x64|x86> ..."""
import struct
import sys

MACHINES = {"x64": 0x8664, "x86": 0x14C}


def check(path, arch):
    with open(path, "rb") as f:
        data = f.read(4096)
    if data[:2] != b"MZ":
        return f"{path}: not a PE executable (no MZ header)"
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    if data[pe:pe + 4] != b"PE\0\0":
        return f"{path}: no PE signature at offset {pe:#x}"
    machine = struct.unpack_from("<H", data, pe + 4)[0]
    opt = pe + 24
    os_major, os_minor = struct.unpack_from("<HH", data, opt + 40)
    sub_major, sub_minor = struct.unpack_from("<HH", data, opt + 48)
    problems = []
    if machine != MACHINES[arch]:
        problems.append(f"machine {machine:#x}, expected {MACHINES[arch]:#x} ({arch})")
    if (os_major, os_minor) != (6, 1):
        problems.append(f"OS version {os_major}.{os_minor}, expected 6.1")
    if (sub_major, sub_minor) != (6, 1):
        problems.append(f"subsystem version {sub_major}.{sub_minor}, expected 6.1")
    if problems:
        return f"{path}: " + "; ".join(problems)
    print(f"{path}: {arch}, OS 6.1, subsystem 6.1")
    return None


def main(args):
    if len(args) % 2 or not args:
        print(__doc__, file=sys.stderr)
        return 2
    errors = [e for e in (check(args[i], args[i + 1]) for i in range(0, len(args), 2)) if e]
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
