"""Work too big for the machine is refused before allocating, with the estimate and the flags."""

import pytest

from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.resources import cell_minimum_bytes, check_fits
from resnet_scale_cli.spec import RunSpec


def test_minimum_need_of_a_small_cell_counted_by_hand():
    # full model, float32, L = 10, d = 3, one β, one sample: V and W 2·10·9·4 = 720 B; states 4 copies · 1 row · 3 · 4 = 48 B;
    # one checkpoint segment of ⌊√10⌋ + 1 = 4 layers · 1 row · 3 · 4 = 48 B
    spec = RunSpec(depth=10, width=3, betas=(0.5,), samples=1, device="cpu")
    assert cell_minimum_bytes(spec) == 720 + 48 + 48


def test_tangent_probes_multiply_the_rows():
    base = dict(depth=10, width=3, betas=(0.5,), samples=1, device="cpu", model="simple")
    plain = cell_minimum_bytes(RunSpec(**base, gradients=False))
    tangent = cell_minimum_bytes(RunSpec(**base, grad_method="tangent"))
    assert plain == 10 * 9 * 4 + 4 * 3 * 4
    assert tangent == 10 * 9 * 4 + 4 * 4 * 3 * 4 + 4 * 4 * 3 * 4  # rows × (1 + d probes) = 4


def test_a_cell_beyond_the_free_memory_is_refused_naming_the_flags():
    spec = RunSpec(depth=1000, width=40, device="cpu")
    with pytest.raises(SpecError, match=r"--depth 1000 --width 40: one weight draw needs about .* reduce --depth or --width"):
        check_fits(spec, available=10**6)
    check_fits(spec, available=10**9)


@pytest.mark.parametrize("args", [["run", "--depth", "1" + "0" * 39], ["sweep", "--depth", "10,1" + "0" * 39, "--samples", "2"],
                                  ["phase", "--depth", "10,100000000", "--width", "4096", "--samples", "2"]])
def test_absurd_sizes_exit_2_with_one_line(cli, args):
    code, out, err = cli(*args, "--device", "cpu")
    assert code == 2 and out == "" and err.count("\n") == 1 and "needs about" in err
