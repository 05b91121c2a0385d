#!/usr/bin/env python3
"""Writes docs/events.md, the event reference, from the comments of the proto
files that define an event (proto/vigil/v1/event.proto and the payload files
it imports), so the reference cannot drift from the model:

  - every event kind, with the payload field its events carry;
  - every message an event holds, each field with its JSON name, type and the
    comment the proto gives it;
  - every enum, with its values.

With --check nothing is written: it fails, with a diff, when docs/events.md
differs from what it would write (the events.reference test). The parser
reads the subset of proto3 this project writes (clang-formatted: one field
per line, comments with //), and fails on a line it does not understand.

  scripts/gen-event-reference.py [--check]
"""
import argparse
import difflib
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROTO_DIR = os.path.join(ROOT, "proto", "vigil", "v1")
FILES = ["event.proto", "network.proto", "file.proto", "security.proto", "alert.proto"]
OUT = os.path.join(ROOT, "docs", "events.md")

FIELD = re.compile(r"^(optional |repeated )?([\w.]+|map<\w+, ?[\w.]+>) (\w+) = (\d+);\s*(?://\s*(.*))?$")
ENUM_VALUE = re.compile(r"^(\w+) = (\d+);\s*(?://\s*(.*))?$")


def json_name(name):
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def parse(path):
    """[(kind, name, doc, items, file)]; items: fields or enum values, in order."""
    blocks, stack, comment = [], [], []
    with open(path) as f:
        for number, raw in enumerate(f, 1):
            line = raw.strip()
            where = f"{os.path.relpath(path, ROOT)}:{number}"
            if not line:
                comment = []
                continue
            if line.startswith("//"):
                comment.append(line[2:].strip())
                continue
            if re.match(r"^(syntax|package|import|option) ", line):
                comment = []
                continue
            m = re.match(r"^(message|enum) (\w+) \{$", line)
            if m:
                if stack:
                    sys.exit(f"{where}: nested {m.group(1)}s are not supported by this generator")
                block = {"kind": m.group(1), "name": m.group(2), "doc": " ".join(comment), "items": [],
                         "file": os.path.basename(path)}
                blocks.append(block)
                stack.append(block)
                comment = []
                continue
            m = re.match(r"^oneof (\w+) \{$", line)
            if m and stack:
                stack.append({"kind": "oneof", "name": m.group(1)})
                comment = []
                continue
            if line == "}":
                if not stack:
                    sys.exit(f"{where}: unbalanced }}")
                stack.pop()
                comment = []
                continue
            if not stack:
                sys.exit(f"{where}: not understood: {line}")
            owner = next(b for b in reversed(stack) if b["kind"] != "oneof")
            in_oneof = stack[-1]["kind"] == "oneof"
            if owner["kind"] == "enum":
                m = ENUM_VALUE.match(line)
                if not m:
                    sys.exit(f"{where}: not an enum value: {line}")
                # A comment above a value heads a group of values ("network:
                # 16..31"); only the one after it is about the value.
                doc = m.group(3) or ""
                owner["items"].append({"name": m.group(1), "number": int(m.group(2)), "doc": doc})
            else:
                m = FIELD.match(line)
                if not m:
                    sys.exit(f"{where}: not a field: {line}")
                label, type_, name, num, trailing = m.groups()
                # In a oneof, a comment above a field heads a group, as in enums.
                lead = [] if in_oneof else comment
                doc = " ".join(lead + ([trailing] if trailing else []))
                owner["items"].append({"name": name, "number": int(num), "type": type_,
                                       "label": (label or "").strip(), "doc": doc,
                                       "oneof": stack[-1]["name"] if in_oneof else ""})
            comment = []
    if stack:
        sys.exit(f"{path}: unclosed block")
    return blocks


def cell(text):
    return text.replace("|", "\\|")


def render(blocks):
    by_name = {b["name"]: b for b in blocks}
    event = by_name["Event"]
    kinds = by_name["EventKind"]
    payloads = [f for f in event["items"] if f["oneof"] == "payload"]

    def payload_of(kind_name):
        """The payload field a kind's events carry: the one whose comment names
        the kind, else the one named like it (EVENT_KIND_TCP_CONNECT ->
        tcp_connect), else the family's (EVENT_KIND_FILE_* -> file)."""
        for f in payloads:
            if re.search(rf"\b{kind_name}\b", f["doc"]):
                return f
        short = kind_name[len("EVENT_KIND_"):].lower()
        for f in payloads:
            if f["name"] == short:
                return f
        for f in payloads:
            if re.search(r"EVENT_KIND_(\w+)_\*", f["doc"]) and short.startswith(
                    re.search(r"EVENT_KIND_(\w+)_\*", f["doc"]).group(1).lower() + "_"):
                return f
        special = {"sensor_health": "health"}
        for f in payloads:
            if f["name"] == special.get(short):
                return f
        return None

    out = [
        "# Event reference",
        "",
        "<!-- Generated by scripts/gen-event-reference.py from proto/vigil/v1/*.proto;"
        " edit the proto comments, then run the script. -->",
        "",
        "Every event, in the sensor's JSON output, `vigilctl tail -o json`, the collector's files and Azure rows,",
        "is one `Event` in the standard protobuf JSON mapping: field names in lowerCamelCase, 64-bit integers as",
        "strings, enums by name, timestamps in RFC 3339, and fields at their default (0, false, empty) left out.",
        "`kind` says which payload field is set.",
        "",
        "## Kinds",
        "",
        "| kind (`vigilctl tail -k`) | number | payload field | note |",
        "|---|---|---|---|",
    ]
    for k in kinds["items"]:
        if k["number"] == 0:
            continue
        p = payload_of(k["name"])
        short = k["name"][len("EVENT_KIND_"):].lower()
        field = f"`{json_name(p['name'])}` ({p['type']})" if p else "none"
        out.append(f"| `{short}` | {k['number']} | {field} | {cell(k['doc'])} |")
    out.append("")
    for b in blocks:
        if b is kinds:
            continue
        out += [f"## {b['name']}", ""]
        if b["doc"]:
            out += [b["doc"], ""]
        out.append(f"Defined in `proto/vigil/v1/{b['file']}`.")
        out.append("")
        if b["kind"] == "enum":
            out += ["| value | number | meaning |", "|---|---|---|"]
            for v in b["items"]:
                out.append(f"| `{v['name']}` | {v['number']} | {cell(v['doc'])} |")
        else:
            out += ["| field (JSON) | type | meaning |", "|---|---|---|"]
            for f in b["items"]:
                type_ = f["type"]
                if type_ in by_name:
                    type_ = f"[{type_}](#{type_.lower()})"
                if f["label"] == "repeated":
                    type_ = f"list of {type_}"
                doc = f["doc"]
                if f["label"] == "optional":
                    doc = (doc + " " if doc else "") + "(Present even when 0.)"
                if f["oneof"]:
                    doc = f"Payload ({f['oneof']}). " + doc
                out.append(f"| `{json_name(f['name'])}` | {cell(type_)} | {cell(doc.strip())} |")
        out.append("")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    blocks = []
    for name in FILES:
        blocks += parse(os.path.join(PROTO_DIR, name))
    # Event first, then what it holds, in the files' order.
    blocks.sort(key=lambda b: (b["name"] not in ("EventKind", "Event"), b["name"] != "EventKind"))
    text = render(blocks)
    if args.check:
        with open(OUT) as f:
            current = f.read()
        if current != text:
            sys.stdout.writelines(difflib.unified_diff(current.splitlines(True), text.splitlines(True),
                                                       "docs/events.md", "generated"))
            sys.exit("docs/events.md is out of date: run scripts/gen-event-reference.py")
        return
    with open(OUT, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
