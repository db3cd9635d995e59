#!/usr/bin/env python3
"""A man page and its program agree, and the page is clean mdoc (TAP).

    test-man.py PROGRAM PAGE

- `mandoc -Tlint -W warning PAGE` prints nothing and exits 0;
- `mandoc -Tlint -W style PAGE` prints nothing but "referenced manual not
  found" for an Xr (and mandoc.db notes about them): which other pages are
  installed depends on the machine;
- if groff is installed, `groff -mdoc -ww -z` prints no warning (what
  `man --warnings` and lintian run);
- `mandoc -Tascii` renders NAME, SYNOPSIS, DESCRIPTION and OPTIONS, and the
  page's .Nm is the program's name in its --help;
- every option of `PROGRAM --help` (both its forms) is an item of the
  page's OPTIONS list, every item of that list is an option of --help, in
  the same order, and a default --help names is the item's "Default:".

No mandoc: a skip, which CI=true turns into a failure.
"""
import os
import re
import shutil
import subprocess
import sys

results = []


def check(ok, what, diag=None):
    results.append((ok, what, diag))


def skip(what, why):
    results.append((True, f"{what} # SKIP {why}", None))


def finish():
    print(f"1..{len(results)}")
    failed = 0
    for i, (ok, what, diag) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {what}")
        if not ok:
            failed += 1
            for line in (diag or "").splitlines():
                print(f"# {line}")
    sys.exit(1 if failed else 0)


def run(argv):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       env=dict(os.environ, LC_ALL="C.UTF-8"))
    return p.returncode, p.stdout, p.stderr


# --- --help


def help_options(text):
    """[(forms, block)] of the Options section: forms the set of spellings
    ("-n", "--dry-run"), block the option's help text with its
    continuation lines."""
    lines = text.splitlines()
    try:
        start = next(i for i, l in enumerate(lines) if l.strip() == "Options:") + 1
    except StopIteration:
        return None
    out = []
    for line in lines[start:]:
        m = re.match(r"^\s+(-[A-Za-z0-9])?(?:, )?(--[A-Za-z0-9][A-Za-z0-9-]*)?", line)
        if line.lstrip().startswith("-") and m and (m.group(1) or m.group(2)):
            forms = {f for f in (m.group(1), m.group(2)) if f}
            out.append([forms, line])
        elif out and line.strip():
            out[-1][1] += " " + line.strip()
    return out


def help_default(block):
    m = re.search(r"\(default\s+([^\s);,]+)", block)
    return m.group(1) if m else None


# --- the page's mdoc source


def unescape(word):
    return word.replace("\\-", "-").replace("\\&", "")


def page_sections(src):
    """{section name: [lines]} of the mdoc source."""
    secs, cur = {}, None
    for line in src.splitlines():
        if line.startswith(".Sh "):
            cur = line[4:].strip().strip('"')
            secs[cur] = []
        elif cur is not None:
            secs[cur].append(line)
    return secs


def page_options(lines):
    """[(forms, text)] of the top-level list of OPTIONS: forms the flags of
    the item's .It line, text its body with macro names dropped."""
    out, depth = [], 0
    for line in lines:
        words = line.split()
        if line.startswith(".Bl"):
            depth += 1
        elif line.startswith(".El"):
            depth -= 1
        elif line.startswith(".It") and depth == 1:
            forms = set()
            for i, w in enumerate(words):
                if w == "Fl" and i + 1 < len(words):
                    forms.add("-" + unescape(words[i + 1]))
            out.append([forms, ""])
            continue
        if out and depth >= 1:
            # Macro names (Pa, Cm, Ns, ...) dropped: what is left reads as
            # the rendered text does, give or take spacing.
            text = " ".join(unescape(w) for w in words if not re.fullmatch(r"\.?[A-Z][a-z]{1,2}", w))
            out[-1][1] += " " + text
    return out


def show(forms):
    return ", ".join(sorted(forms, key=lambda f: (len(f) > 2, f)))


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: test-man.py PROGRAM PAGE")
    prog, page = sys.argv[1], sys.argv[2]
    name = os.path.basename(page)

    if not shutil.which("mandoc"):
        if os.environ.get("CI") == "true":
            print("Bail out! needs mandoc, and CI=true forbids skipping")
            sys.exit(1)
        print("1..0 # SKIP mandoc is not installed")
        sys.exit(0)

    src = open(page, encoding="utf-8").read()

    rc, out, err = run(["mandoc", "-Tlint", "-W", "warning", page])
    check(rc == 0 and not out and not err, f"{name}: mandoc -Tlint -W warning is clean", out + err)

    rc, out, err = run(["mandoc", "-Tlint", "-W", "style", page])
    noise = re.compile(r"STYLE: referenced manual not found: Xr |outdated mandoc\.db lacks ")
    left = [l for l in (out + err).splitlines() if not noise.search(l)]
    check(not left, f"{name}: mandoc -Tlint -W style is clean but for Xr targets not installed here",
          "\n".join(left))

    if shutil.which("groff"):
        rc, out, err = run(["groff", "-mdoc", "-Tutf8", "-ww", "-z", page])
        check(rc == 0 and not err, f"{name}: groff -mdoc -ww has no warning", err)
    else:
        skip(f"{name}: groff -mdoc -ww has no warning", "groff is not installed")

    rc, text, err = run(["mandoc", "-Tascii", page])
    text = re.sub(r".\x08", "", text)
    heads = set(re.findall(r"^([A-Z][A-Z ]+)$", text, re.M))
    want = {"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS"}
    check(rc == 0 and want <= heads, f"{name}: renders, with sections {', '.join(sorted(want))}",
          f"exit {rc}; sections: {sorted(heads)}\n{err}")

    rc, helptext, err = run([prog, "--help"])
    usage = re.match(r"Usage: (\S+)", helptext)
    nm = re.search(r"^\.Nm (\S+)", src, re.M)
    check(rc == 0 and usage and nm and usage.group(1) == nm.group(1),
          f"{name}: .Nm is the program's name in --help",
          f"--help exit {rc}, Usage: {usage and usage.group(1)}, .Nm {nm and nm.group(1)}")

    hopts = help_options(helptext) or []
    check(len(hopts) > 0, f"{name}: --help has an Options section", helptext)
    secs = page_sections(src)
    popts = page_options(secs.get("OPTIONS", []))
    check(len(popts) > 0, f"{name}: the page has an OPTIONS list")

    for forms, block in hopts:
        match = [p for p in popts if p[0] & forms]
        if not match:
            check(False, f"--help option {show(forms)} is in OPTIONS", "no item of OPTIONS names it")
            continue
        pforms, ptext = match[0]
        check(pforms == forms, f"--help option {show(forms)} is in OPTIONS",
              f"the item names {show(pforms)}" if pforms != forms else None)
        default = help_default(block)
        if default:
            ok = re.search(r"Default: " + re.escape(default) + r"(?=[\s.,;]|$)", ptext)
            check(bool(ok), f"{show(forms)}: the page gives the default of --help, {default}",
                  f"item text: {ptext.strip()}")

    for forms, _ in popts:
        check(bool(forms) and any(forms == h[0] for h in hopts), f"OPTIONS item {show(forms) or '(no flag)'} is in --help",
              "--help lists no such option (with these forms)")

    both = [h for h in hopts if any(h[0] == p[0] for p in popts)]
    order_page = [p[0] for p in popts if any(p[0] == h[0] for h in hopts)]
    check([h[0] for h in both] == order_page, f"{name}: OPTIONS lists the options in the order of --help",
          "--help: " + " ".join(show(h[0]) for h in both) + "\npage:   " + " ".join(show(f) for f in order_page))
    finish()


main()
