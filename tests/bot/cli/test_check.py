"""``netadvisor check`` and ``netadvisor catalog`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from advisories.catalog import builtin_catalog_dir
from tests.runner import run

ASSETS = Path(__file__).parents[2] / "assets"


def test_check_centos_7_ipvs_reports_the_1s_delay_first_and_sums_up_the_rest() -> None:
    code, out, _ = run("check", "--os", "CentOS 7.9", "--proxy-mode", "ipvs", "--k8s", "1.27")
    assert code == 0
    assert "AFFECTED  KP-IPVS-CONN-REUSE" in out
    assert "1 s delay" in out
    assert "Components checked: kube-proxy" in out
    assert "Not considered: 22 advisories" in out
    assert "catalog 2026" in out


def test_check_json_has_one_result_per_advisory_with_documented_fields() -> None:
    code, out, _ = run("check", "--kernel", "5.4", "--mode", "ipvs", "--json")
    data = json.loads(out)
    assert code == 0
    assert len(data["results"]) == 28
    for item in data["results"]:
        assert {"id", "verdict", "impact", "recommendation", "depends_on", "caveats"} <= set(item)
        assert item["verdict"] in {"affected", "not_affected", "unknown"}
    ipvs = next(r for r in data["results"] if r["id"] == "KP-IPVS-CONN-REUSE")
    assert ipvs["verdict"] == "affected"
    assert data["facts"]["kernel"]["raw"] == "5.4"


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["--os", "Ubuntu 22.04", "--mode", "ipvs", "--k8s", "1.29", "--fail-on", "affected"], 0),
        (["--os", "CentOS 7.9", "--mode", "ipvs", "--k8s", "1.29", "--fail-on", "affected"], 1),
        (["--k8s", "1.29", "--mode", "ipvs", "--fail-on", "unknown"], 1),
        (["--k8s", "1.29", "--mode", "ipvs", "--fail-on", "affected"], 0),
        (["--os", "CentOS 7.9", "--mode", "ipvs", "--k8s", "1.29"], 0),
    ],
)
def test_fail_on_exits_1_only_when_a_verdict_reaches_the_level(argv: list[str], code: int) -> None:
    assert run("check", *argv)[0] == code


@pytest.mark.parametrize(
    ("argv", "named", "valid"),
    [
        (["--kernel", "banana"], "--kernel", "5.4"),
        (["--proxy-mode", "userspace"], "--proxy-mode", "iptables, ipvs, nftables, none"),
        (["--calico", "three"], "--calico", "none"),
        (["--calico-encapsulation", "gre"], "--calico-encapsulation", "vxlan"),
        (["--os", "Windows 11"], "--os", "Ubuntu 22.04"),
        (["--feature", "warp-drive"], "--feature", "lb-source-ranges"),
        (["--fail-on", "always"], "--fail-on", "affected"),
    ],
)
def test_bad_arguments_exit_2_naming_the_argument_and_valid_values(
    argv: list[str], named: str, valid: str
) -> None:
    code, out, err = run("check", *argv)
    assert code == 2
    assert named in err and valid in err
    assert out == ""


def test_none_states_absence_and_feature_flags_are_read() -> None:
    _, out, _ = run("check", "--spiderpool", "none", "--json")
    results = {r["id"]: r for r in json.loads(out)["results"]}
    assert all(results[i]["verdict"] == "not_affected" for i in results if i.startswith("SP-"))
    _, out, _ = run("check", "--spiderpool", "0.8.3", "--feature",
                    "spiderpool-kubevirt-static-ip-disabled", "--json")  # fmt: skip
    results = {r["id"]: r for r in json.loads(out)["results"]}
    assert results["SP-2971"]["verdict"] == "affected"


def test_catalog_list_show_features_validate() -> None:
    code, out, _ = run("catalog", "list")
    assert code == 0 and out.count("\n") == 29
    code, out, _ = run("catalog", "show", "calico-ipip-checksum")
    assert code == 0 and "3.29.0" in out and "ethtool -K tunl0 tx off" in out
    code, out, _ = run("catalog", "features")
    assert "externalips-etp-local" in out and "spiderpool-coordinator-overlay" in out
    code, out, _ = run("catalog", "validate")
    assert code == 0 and "28 advisories valid" in out
    code, _, err = run("catalog", "show", "NOPE-1")
    assert code == 2 and "unknown advisory" in err


def test_catalog_validate_reports_a_broken_directory_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("id: X-1\ntitle: t\n", encoding="utf-8")
    code, _, err = run("catalog", "validate", str(tmp_path))
    assert code == 2
    assert "x.yaml [X-1]: component: missing" in err


def test_catalog_validate_refuses_a_file_that_duplicates_a_builtin_id(tmp_path: Path) -> None:
    builtin = next(p for p in builtin_catalog_dir().rglob("KP-IPVS-CONN-REUSE.yaml"))
    (tmp_path / "mine.yaml").write_bytes(builtin.read_bytes())
    code, out, err = run("catalog", "validate", str(tmp_path))
    assert (code, out) == (2, "")
    assert f"{tmp_path / 'mine.yaml'} [KP-IPVS-CONN-REUSE]: id: duplicate id" in err
    # --catalog-dir refuses the same directory
    assert run("--catalog-dir", str(tmp_path), "catalog", "list")[0] != 0


def test_catalog_validate_counts_only_the_directorys_advisories(tmp_path: Path) -> None:
    builtin = next(p for p in builtin_catalog_dir().rglob("KP-IPVS-CONN-REUSE.yaml"))
    text = builtin.read_text(encoding="utf-8").replace("KP-IPVS-CONN-REUSE", "LOCAL-IPVS-1")
    (tmp_path / "mine.yaml").write_text(text, encoding="utf-8")
    code, out, _ = run("catalog", "validate", str(tmp_path))
    assert code == 0
    assert out.startswith("ok: 1 advisories valid")


def test_osv_export_validates_against_the_osv_schema() -> None:
    code, out, _ = run("catalog", "export", "--format", "osv")
    records = json.loads(out)
    schema = json.loads((ASSETS / "osv-schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    assert code == 0 and len(records) == 28
    for record in records:
        errors = list(validator.iter_errors(record))
        assert not errors, (record["id"], [e.message for e in errors])
    ipip = next(r for r in records if r["id"] == "NETADVISOR-CALICO-IPIP-CHECKSUM")
    assert ipip["affected"][0]["package"]["name"] == "github.com/projectcalico/calico"
    assert "kernel" in ipip["affected"][0]["ecosystem_specific"]["conditions"]


def test_json_export_derives_fixed_versions() -> None:
    code, out, _ = run("catalog", "export", "--format", "json")
    data = json.loads(out)
    leak = next(a for a in data["advisories"] if a["id"] == "CALICO-KUBE-CONTROLLERS-LEAK")
    assert code == 0 and leak["fixed_in"] == ["3.24.6", "3.25.1"]
