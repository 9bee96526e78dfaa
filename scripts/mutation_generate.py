"""Generate mutmut's mutants under mutants/ without running any, so that a sample can be drawn
(`bash scripts/mutation.sh --sample N`). The same steps as the start of `mutmut run` (mutmut 3.8)."""

from __future__ import annotations

import os
import sys

import mutmut.__main__ as mutmut_main

if __name__ == "__main__":
    mutmut_main.set_mutant_under_test("mutant_generation")
    os.makedirs("mutants", exist_ok=True)
    mutmut_main.copy_src_dir()
    mutmut_main.copy_also_copy_files()
    mutmut_main.setup_source_paths()
    mutmut_main.store_lines_covered_by_tests()
    mutmut_main.create_mutants(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
