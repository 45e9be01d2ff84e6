"""singaudit.wording's fixed-width helpers: one rule for missing values (n/a) everywhere."""

from __future__ import annotations

from singaudit.wording import fixed, megabytes, seconds, significant


def test_fixed_keeps_its_decimals_and_signs_on_request():
    assert [fixed(0.5), fixed(0.5, 3), fixed(1.234, signed=True), fixed(-0.1, signed=True)] == [
        "0.50", "0.500", "+1.23", "-0.10"]
    assert fixed(None) == fixed(float("nan")) == "n/a"


def test_significant_keeps_the_digits_that_tell_fits_apart():
    assert [significant(0.99961), significant(0.99), significant(1.2e-05)] == [
        "0.9996", "0.99", "1.2e-05"]
    assert significant(None) == significant(float("nan")) == "n/a"


def test_sizes_and_durations():
    assert [megabytes(0), megabytes(12_345_678), seconds(1.25), seconds(0.04)] == [
        "0.0 MB", "12.3 MB", "1.2 s", "0.0 s"]
