"""Write the sections of an Apptainer definition file as files, for .ci/container-test.sh.

    python apptainer_sections.py DEF OUTDIR [NAME=VALUE ...]

Writes OUTDIR/{files.txt,post.sh,environment.sh,test.sh,runscript.sh,from.txt}, with
``{{ NAME }}`` build arguments replaced as ``apptainer build --build-arg`` does (defaults
from %arguments). Exits non-zero when a section the images need is missing. The recipe's
structure is checked with spython in tests/test_images.py; this keeps each section's
text exactly as written, which spython's Docker-oriented model does not.
"""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

NEEDED = ("files", "post", "environment", "runscript", "test", "labels", "help")


def split_sections(text: str) -> tuple[dict[str, str], dict[str, str]]:
    header, sections, name = {}, {}, None
    for line in text.splitlines():
        match = re.match(r"^%(\w+)\s*$", line)
        if match:
            name = match.group(1).lower()
            sections[name] = ""
        elif name is None:
            key, _, value = line.partition(":")
            if value and not line.lstrip().startswith("#"):
                header[key.strip().lower()] = value.strip()
        else:
            sections[name] += line + "\n"
    return header, {k: textwrap.dedent(v).strip() + "\n" for k, v in sections.items()}


def main(argv: list[str]) -> int:
    definition, outdir, *overrides = argv
    header, sections = split_sections(Path(definition).read_text())
    missing = [s for s in NEEDED if s not in sections]
    if missing or header.get("bootstrap") != "docker" or not header.get("from"):
        print(f"{definition}: missing sections {missing} or Bootstrap/From header", file=sys.stderr)
        return 1
    arguments = dict(line.split("=", 1) for line in sections.get("arguments", "").split() if "=" in line)
    arguments.update(dict(o.split("=", 1) for o in overrides))
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    for name, body in sections.items():
        body = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: arguments[m.group(1)], body)
        target = {"files": "files.txt", "labels": "labels.txt", "help": "help.txt"}.get(name, f"{name}.sh")
        (out / target).write_text(body)
    (out / "from.txt").write_text(header["from"] + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
