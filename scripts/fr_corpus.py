#!/usr/bin/env python3
"""The corpus behind wren's built-in FR-Spec frequency tables (`crates/core/data/*.fr`).

Downloads four Debian packages (English prose, reference text and code examples), extracts
them, and writes their text to one file for `wren fr-table`:
- fortunes, fortunes-min: quotations, jokes, verse and literature excerpts;
- python3.11-doc: the reStructuredText sources of the tutorial, HOWTOs, FAQ and library
  reference (prose with code examples);
- debian-reference-en: a technical manual (HTML, tags stripped);
- dict-gcide: the first 4 MB of the Collaborative International Dictionary of English
  (definitions with quotations, markup stripped);
plus `../shared/reference/ppl_text.txt` when it exists.

Usage: scripts/fr_corpus.py OUT.txt   (then: wren fr-table -m MODEL OUT.txt -o TABLE)
"""
import glob
import gzip
import html
import os
import re
import subprocess
import sys
import tempfile

PACKAGES = ["fortunes", "fortunes-min", "python3.11-doc", "debian-reference-en", "dict-gcide"]


def strip_tags(s):
    return html.unescape(re.sub(r"<[^>]*>", " ", s))


def main():
    out = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["apt-get", "download", *PACKAGES], cwd=d, check=True,
                       stdout=subprocess.DEVNULL)
        root = os.path.join(d, "x")
        for deb in sorted(glob.glob(os.path.join(d, "*.deb"))):
            subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
        parts = []
        for f in sorted(glob.glob(f"{root}/usr/share/games/fortunes/*")):
            if os.path.isfile(f) and not f.endswith((".dat", ".u8")):
                text = open(f, encoding="utf-8", errors="replace").read()
                parts.append("\n".join(l for l in text.splitlines() if l.strip() != "%"))
        src = f"{root}/usr/share/doc/python3.11/html/_sources"
        for sub in ["tutorial", "howto", "faq", "library"]:
            for f in sorted(glob.glob(f"{src}/{sub}/*.rst.txt")):
                parts.append(open(f, encoding="utf-8", errors="replace").read())
        for f in sorted(glob.glob(f"{root}/usr/share/debian-reference/*.en.html")):
            parts.append(strip_tags(open(f, encoding="utf-8", errors="replace").read()))
        gcide = glob.glob(f"{root}/usr/share/dictd/gcide.dict.dz")
        if gcide:
            with gzip.open(gcide[0], "rt", encoding="utf-8", errors="replace") as g:
                parts.append(strip_tags(g.read(4 << 20)))
    ppl = os.path.join(here, "..", "..", "shared", "reference", "ppl_text.txt")
    if os.path.exists(ppl):
        parts.append(open(ppl, encoding="utf-8").read())
    text = "\n\n".join(parts)
    open(out, "w", encoding="utf-8").write(text)
    print(f"{out}: {len(text) / 1e6:.1f} M characters from {len(parts)} files")


if __name__ == "__main__":
    main()
