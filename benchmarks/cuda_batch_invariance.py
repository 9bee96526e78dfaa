"""Does one entry of a batched product depend on the batch count? (float32, TF32 off)

    python benchmarks/cuda_batch_invariance.py [cuda|cpu]

`measure_group` stacks several law settings' draws on the batch axis of `bmm`/`baddbmm_`, and its
records are meant to equal each setting measured alone bit for bit. That holds exactly when each
batch entry's product is computed the same way whatever the batch count. On the CPU it is; on CUDA
cuBLAS picks a kernel per (m, n, k, batch) and promises identical bits only for the same problem.
This script checks the Figure-7 shapes (700 and 2 870 rows × d = 40, batches 5 … 255) and a few
others, and prints the cases where the first entries of a big batch differ from the same entries
computed alone. A diagnostic: it asserts nothing (the test suite's
`test_group_at_the_figure_7_width_is_bit_identical_to_each_setting_alone` checks the records).
"""

from __future__ import annotations

import json
import sys

import torch


def main() -> None:
    device = sys.argv[1] if len(sys.argv) > 1 else ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
    gen = torch.Generator(device).manual_seed(0)
    differing = []
    cases = 0
    for width, rows in ((40, 700), (40, 70 * 41), (64, 65), (6, 6), (8, 24)):
        for big in (10, 35, 255):
            for part in (1, 2, 5):
                a = torch.randn(big, rows, width, generator=gen, device=device)
                b = torch.randn(big, width, width, generator=gen, device=device)
                c = torch.randn(big, rows, width, generator=gen, device=device)
                for name, whole, alone in (
                    ("bmm x W^T", torch.bmm(a, b.mT), torch.bmm(a[:part], b[:part].mT)),
                    ("bmm p V", torch.bmm(a, b), torch.bmm(a[:part], b[:part])),
                    ("baddbmm_", c.clone().baddbmm_(a, b.mT), c[:part].clone().baddbmm_(a[:part], b[:part].mT)),
                ):
                    cases += 1
                    if not torch.equal(whole[:part], alone):
                        differing.append({"op": name, "d": width, "rows": rows, "batch": big, "alone": part,
                                          "entries": int((whole[:part] != alone).sum())})
    print(json.dumps({"device": device, "torch": torch.__version__, "cases": cases, "differing": differing}))


if __name__ == "__main__":
    main()
