#!/usr/bin/env python3
"""Reads `vif-route-qubes status [--all] --json` from stdin, checks it against
the documented schema (vif-route-qubes(8), JSON OUTPUT) and prints the text
the same command prints without --json, byte for byte, so a test can compare
the two. Exit 1 with a message when the JSON breaks the schema.

Usage: status-json.py one|all"""
import json
import sys

STATES = {"ok", "differs", "missing", "defeats", "stale", "skipped"}


def fail(msg):
    sys.stderr.write("status-json.py: %s\n" % msg)
    sys.exit(1)


def raw(s):
    # The program escapes each byte outside ASCII as \u00XX.
    return s.encode("latin-1")


def check_type(obj, key, types, where):
    if key not in obj:
        fail("%s: no field %r" % (where, key))
    if not isinstance(obj[key], types) or isinstance(obj[key], bool):
        fail("%s: %r is %r" % (where, key, obj[key]))


def check_vif(v):
    where = "vif %r" % v.get("vif")
    if set(v) - {"vif", "interface", "xenbus_path", "domid", "firewall", "state",
                 "items_total", "items_wrong", "items", "error"}:
        fail("%s: unknown fields %s" % (where, sorted(set(v))))
    check_type(v, "vif", str, where)
    check_type(v, "state", str, where)
    if v["state"] not in ("ok", "wrong", "unknown"):
        fail("%s: state %r" % (where, v["state"]))
    known = v["state"] != "unknown"
    for key, t in (("interface", str), ("xenbus_path", str), ("domid", int), ("firewall", str)):
        if known or v.get(key) is not None:
            check_type(v, key, t, where)
    if v.get("firewall") not in (None, "nftables", "iptables"):
        fail("%s: firewall %r" % (where, v["firewall"]))
    check_type(v, "items_total", int, where)
    check_type(v, "items_wrong", int, where)
    check_type(v, "items", list, where)
    for it in v["items"]:
        if set(it) != {"state", "kind", "text"} or not all(isinstance(x, str) for x in it.values()):
            fail("%s: item %r" % (where, it))
        if it["state"] not in STATES:
            fail("%s: item state %r" % (where, it["state"]))
    total = sum(1 for it in v["items"] if it["state"] != "skipped")
    wrong = sum(1 for it in v["items"] if it["state"] not in ("ok", "skipped"))
    if known and (v["items_total"], v["items_wrong"]) != (total, wrong):
        fail("%s: counts %d/%d, items say %d/%d" % (where, v["items_total"], v["items_wrong"], total, wrong))
    if known and (v["state"] == "wrong") != (wrong > 0):
        fail("%s: state %r with %d wrong items" % (where, v["state"], wrong))
    if known == ("error" in v):
        fail("%s: error field with state %r" % (where, v["state"]))
    if not known:
        check_type(v, "error", str, where)


def text_of(v):
    out = b""
    name = raw(v["interface"] if v.get("interface") is not None else v["vif"])
    if v["state"] == "unknown":
        return name + b": could not be checked: " + raw(v["error"]) + b"\n"
    for it in v["items"]:
        out += b"%-8s %-9s %s\n" % (raw(it["state"]), raw(it["kind"]), raw(it["text"]))
    if v["items_wrong"]:
        out += b"%s: %d of %d items wrong\n" % (name, v["items_wrong"], v["items_total"])
    else:
        out += b"%s: all %d items ok\n" % (name, v["items_total"])
    return out


def main():
    doc = json.load(sys.stdin)
    if sys.argv[1:] == ["one"]:
        check_vif(doc)
        # Text mode prints nothing on stdout for a vif it could not check.
        sys.stdout.buffer.write(b"" if doc["state"] == "unknown" else text_of(doc))
        return
    if set(doc) - {"vifs", "total", "ok", "wrong", "unknown", "error"}:
        fail("unknown top-level fields %s" % sorted(doc))
    for key in ("total", "ok", "wrong", "unknown"):
        check_type(doc, key, int, "top level")
    check_type(doc, "vifs", list, "top level")
    for v in doc["vifs"]:
        check_vif(v)
    states = [v["state"] for v in doc["vifs"]]
    if (doc["total"], doc["ok"], doc["wrong"], doc["unknown"]) != (
            len(states), states.count("ok"), states.count("wrong"), states.count("unknown")):
        fail("totals %r do not count the vifs %r" % (doc, states))
    if "error" in doc:
        check_type(doc, "error", str, "top level")
        return  # nothing listed: text mode prints nothing on stdout
    out = b"\n".join(text_of(v) for v in doc["vifs"])
    if doc["vifs"]:
        out += b"\n"
    out += b"%d vifs: %d ok, %d wrong, %d could not be checked\n" % (
        doc["total"], doc["ok"], doc["wrong"], doc["unknown"])
    sys.stdout.buffer.write(out)


main()
