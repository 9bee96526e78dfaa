"""JUnit XML for CI systems: one testsuite per check file, one testcase per expectation."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from resnet_scale_cli.errors import SpecError


def write_junit(path: Path, files: list[dict[str, Any]]) -> None:
    """`files`: the `files` list of `rscale check --json`."""
    total = sum(len(f["expectations"]) for f in files)
    failed = sum(not e["passed"] for f in files for e in f["expectations"])
    root = ET.Element("testsuites", name="rscale check", tests=str(total), failures=str(failed),
                      time=f"{sum(f['elapsed_seconds'] for f in files):.3f}")
    for f in files:
        cases = f["expectations"]
        suite = ET.SubElement(root, "testsuite", name=f["name"], file=f["file"], tests=str(len(cases)),
                              failures=str(sum(not e["passed"] for e in cases)), errors="0", skipped="0",
                              time=f"{f['elapsed_seconds']:.3f}")
        for e in cases:
            case = ET.SubElement(suite, "testcase", classname=f"rscale.{f['name']}", name=e["name"], time="0")
            if e["passed"]:
                ET.SubElement(case, "system-out").text = e["message"]
            else:
                failure = ET.SubElement(case, "failure", message=e["message"], type=e["type"])
                failure.text = e["message"]
    tree = ET.ElementTree(root)
    ET.indent(tree)
    try:
        tmp = path.with_name(path.name + ".tmp")
        tree.write(tmp, encoding="utf-8", xml_declaration=True)
        tmp.replace(path)
    except OSError as exc:
        raise SpecError(f"--junit: cannot write {str(path)!r}: {exc.strerror or exc}") from None
