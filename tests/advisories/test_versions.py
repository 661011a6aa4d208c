"""Version and kernel strings as clusters report them, normalised once."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from advisories.versions import (
    VersionError,
    VersionKey,
    VersionSet,
    parse_kernel,
    parse_kernel_spec,
    parse_version,
    parse_version_spec,
)


@pytest.mark.parametrize(
    ("raw", "base", "vendor"),
    [
        ("v1.28.3-eks-e71965b", "1.28.3", "eks-e71965b"),
        ("v1.27.8-gke.1067004", "1.27.8", "gke.1067004"),
        ("v1.26.6+k3s1", "1.26.6", "k3s1"),
        ("v1.29.2+rke2r1", "1.29.2", "rke2r1"),
        ("v3.26.1", "3.26.1", ""),
        ("v0.9.0-rc1", "0.9.0-rc1", ""),
        ("1.30.0-alpha.3", "1.30.0-alpha.3", ""),
        ("v1.19.0-beta.0", "1.19.0-beta.0", ""),
        ("3.28", "3.28", ""),
        ("v1.28.15-eks-1-28-2025", "1.28.15", "eks-1-28-2025"),
        ("v1.31.1-aliyun.1", "1.31.1", "aliyun.1"),
        ("v1.25.16+vmware.1", "1.25.16", "vmware.1"),
    ],
)
def test_real_world_component_versions_keep_vendor_suffix_as_data(
    raw: str, base: str, vendor: str
) -> None:
    version = parse_version(raw)
    assert version.base == base
    assert version.vendor == vendor
    assert version.raw == raw


@pytest.mark.parametrize(
    ("raw", "base", "vendor", "backports"),
    [
        ("3.10.0-1160.el7.x86_64", (3, 10, 0), "rhel", True),
        ("4.18.0-477.27.1.el8_8.x86_64", (4, 18, 0), "rhel", True),
        ("5.14.0-362.8.1.el9_3.x86_64", (5, 14, 0), "rhel", True),
        ("5.15.0-1019-aws", (5, 15, 0), "ubuntu", True),
        ("5.4.0-150-generic", (5, 4, 0), "ubuntu", True),
        ("6.1.0-18-amd64", (6, 1, 0), "debian", False),
        ("4.19.90-24.4.v2101.ky10.x86_64", (4, 19, 90), "kylin", True),
        ("5.10.0-60.18.0.50.oe2203.x86_64", (5, 10, 0), "openeuler", True),
        ("5.15.133+", (5, 15, 133), "cos", False),
        ("5.10.102.1-microsoft-standard-WSL2", (5, 10, 102), "wsl", False),
        ("5.10.210-201.852.amzn2.x86_64", (5, 10, 210), "amazon", True),
        ("6.8.0", (6, 8, 0), "", False),
        ("5.4", (5, 4, 0), "", False),
    ],
)
def test_real_world_kernels_compare_on_their_base_version(
    raw: str, base: tuple[int, int, int], vendor: str, backports: bool
) -> None:
    kernel = parse_kernel(raw)
    assert kernel.base == base
    assert kernel.vendor == vendor
    assert kernel.may_backport is backports


@pytest.mark.parametrize("raw", ["", "latest", "v", "abc1.2", "1..2", "sha256:abcdef", "☃"])
def test_strings_that_are_not_versions_raise_version_error(raw: str) -> None:
    with pytest.raises(VersionError):
        parse_version(raw)


@pytest.mark.parametrize("raw", ["", "linux", "5", "x5.4", "5.4abc"])
def test_strings_that_are_not_kernels_raise_version_error(raw: str) -> None:
    with pytest.raises(VersionError):
        parse_kernel(raw)


def test_pre_releases_sort_before_their_final_release_and_by_phase() -> None:
    ordered = ["0.8.3", "0.9.0-alpha.1", "0.9.0-beta.2", "0.9.0-rc0", "0.9.0-rc1", "0.9.0", "0.9.1"]
    keys = [parse_version(v).key for v in ordered]
    assert keys == sorted(keys)


def test_pre_release_lies_inside_a_range_fixed_at_its_final_release() -> None:
    affected = VersionSet.of((parse_version("0.8.0").key, parse_version("0.9.0").key))
    assert parse_version("v0.9.0-rc0").key in affected
    assert parse_version("0.9.0").key not in affected


def test_a_version_with_fewer_parts_is_its_whole_released_series() -> None:
    series = parse_version_spec("3.28")
    assert parse_version("3.28.0").key in series
    assert parse_version("3.28.9").key in series
    assert parse_version("3.29.0-rc1").key not in series
    assert parse_version("3.27.5").key not in series
    assert parse_version_spec("3.28.2").is_point()


def test_a_kernel_with_two_parts_is_every_patch_release() -> None:
    versions, kernel = parse_kernel_spec("5.4")
    assert kernel is None
    assert parse_kernel("5.4.0-150-generic").key in versions
    assert parse_kernel("5.4.284").key in versions
    assert parse_kernel("5.5.0").key not in versions


def test_version_set_algebra_keeps_half_open_intervals() -> None:
    a = VersionSet.of((VersionKey((1, 19, 0, 0)), VersionKey((1, 22, 0, 0))))
    b = VersionSet.of((VersionKey((1, 21, 0, 0)), VersionKey((1, 25, 0, 0))))
    assert a.intersect(b).describe("k8s") == "k8s >= 1.21.0 and < 1.22.0"
    assert a.union(b).describe() == ">= 1.19.0 and < 1.25.0"
    assert a.complement().intersect(a) == VersionSet.empty()
    assert VersionSet.everything().is_everything()


@given(st.text(max_size=80))
def test_no_string_crashes_the_version_parser(text: str) -> None:
    try:
        version = parse_version(text)
    except VersionError:
        return
    assert version.key >= VersionKey((0, 0, 0, 0), (0,))


@given(st.text(max_size=80))
def test_no_string_crashes_the_kernel_parser(text: str) -> None:
    try:
        parse_kernel(text)
    except VersionError:
        return


@given(st.from_regex(r"[vV]?\d{1,3}(\.\d{1,3}){0,3}([-+.][A-Za-z0-9.+-]{0,20})?", fullmatch=True))
def test_version_shaped_strings_parse_or_raise_version_error(text: str) -> None:
    try:
        parse_version(text)
        parse_kernel(text)
    except VersionError:
        pass


@given(st.text(max_size=60), st.sampled_from(["kernel", "k8s", "calico", "mode", "encap", "os"]))
def test_no_string_crashes_fact_parsing_or_os_recognition(text: str, key: str) -> None:
    from advisories.derive import parse_os
    from advisories.facts import FactError, parse_fact

    if key == "os":
        parse_os(text)
        return
    try:
        parse_fact(key, text)
    except FactError as exc:
        assert exc.key
