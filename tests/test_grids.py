"""Grid syntax at its edges: one-point ranges, equal ends, log ranges from below 1, depth 1."""

import pytest

from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.grids import parse_float_grid, parse_int_grid


def test_one_point_ranges_need_equal_ends():
    assert parse_float_grid("0.5:0.5:1", "--beta") == (0.5,)
    with pytest.raises(SpecError, match="count 1 needs start == stop"):
        parse_float_grid("0.5:0.6:1", "--beta")


def test_a_range_with_equal_ends_and_several_points_is_one_value():
    assert parse_float_grid("1:1:3", "--beta") == (1.0,)
    assert parse_float_grid("0:1:2", "--beta") == (0.0, 1.0)


def test_log_ranges_may_start_below_one():
    assert parse_float_grid("0.5:50:3:log", "--lengthscale") == pytest.approx((0.5, 5.0, 50.0))
    with pytest.raises(SpecError, match="start > 0"):
        parse_float_grid("0:50:3:log", "--lengthscale")


def test_depth_one_is_a_depth_and_zero_is_not():
    assert parse_int_grid("1,5", "--depth") == (1, 5)
    assert parse_int_grid(1, "--depth") == (1,)
    for bad in ("0,5", 0, [0, 3], "-3:3:3"):
        with pytest.raises(SpecError, match="at least 1"):
            parse_int_grid(bad, "--depth")


def test_a_range_gives_at_most_ten_thousand_points():
    assert len(parse_float_grid("0:1:10000", "--beta")) == 10_000
    with pytest.raises(SpecError, match=r"^--beta: range count 10001 is more than 10000 points$"):
        parse_float_grid("0:1:10001", "--beta")
    with pytest.raises(SpecError, match=r"^--depth: range count 1000000 is more than 10000 points$"):
        parse_int_grid("1:1000000:1000000", "--depth")


def test_errors_of_numbers_and_range_ends_name_the_flag():
    for bad in (float("nan"), float("inf"), "0:abc:3", "abc:1:3", "0:1e400:3"):
        with pytest.raises(SpecError) as refused:
            parse_float_grid(bad, "--beta")
        assert str(refused.value).startswith("--beta: "), (bad, str(refused.value))
