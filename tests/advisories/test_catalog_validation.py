"""Loading validates every advisory and names the file, the advisory id and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from advisories.catalog import CatalogError, builtin_catalog_dir, load_catalog

GOOD = {
    "id": "LOCAL-TEST-ONE",
    "title": "A local advisory",
    "component": "calico",
    "decided_by": "component-bug",
    "summary": "Something breaks.",
    "recommendation": "Upgrade.",
    "references": [{"type": "FIX", "url": "https://github.com/projectcalico/calico/pull/1"}],
    "cases": [
        {
            "id": "broken",
            "affected": True,
            "severity": "high",
            "when": {"calico": [{"introduced": "3.20.0"}, {"fixed": "3.21.0"}]},
            "impact": "It breaks.",
        }
    ],
}


def write(directory: Path, name: str, data: object) -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def problems(directory: Path) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        load_catalog([directory], builtin=False)
    return [str(issue) for issue in caught.value.issues]


def test_builtin_catalog_has_all_28_seed_issues_with_their_ids() -> None:
    catalog = load_catalog()
    ids = {a.id for a in catalog.advisories}
    assert {"KP-IPVS-CONN-REUSE", "KP-IPTABLES-RANDOM-FULLY", "KP-EXTERNALIPS-ETP-LOCAL",
            "KP-ENDPOINT-UPDATE-DELAY", "KP-NFT-LB-SOURCE-RANGES", "KP-IPTABLES-BACKEND",
            "CALICO-VXLAN-OFFLOAD", "CALICO-VXLAN-PARENT-ROUTES", "CALICO-KUBE-CONTROLLERS-LEAK",
            "CALICO-IPIP-CHECKSUM", "CALICO-IPTABLES-BACKEND"} <= ids  # fmt: skip
    spiderpool = {f"SP-{n}" for n in (2929, 2974, 3020, 3118, 3211, 2639, 2756, 2738, 2971,
                                      3011, 2538, 2370, 2444, 2434, 2518, 2532, 2514)}  # fmt: skip
    assert spiderpool <= ids
    assert len(ids) == 28
    assert catalog.version


def test_every_builtin_advisory_has_recommendation_symptoms_in_two_languages_and_source() -> None:
    for advisory in load_catalog().advisories:
        assert advisory.recommendation.en, advisory.id
        assert advisory.symptoms.get("en") and advisory.symptoms.get("zh"), advisory.id
        assert advisory.source, advisory.id
        assert advisory.references, advisory.id
        assert Path(advisory.path).parent.name == advisory.component


def test_case_symptoms_chinese_titles_and_workaround_cases_load(tmp_path: Path) -> None:
    case = {**GOOD["cases"][0], "symptoms": {"en": ["63s delay"], "zh": ["63秒延迟"]}}  # type: ignore[dict-item]
    data = {**GOOD, "title_zh": "本地问题", "cases": [case],
            "workaround": [{"description": "Do it.", "description_zh": "这样做。",
                            "command": "true", "cases": ["broken"]}]}  # fmt: skip
    write(tmp_path, "LOCAL-TEST-ONE.yaml", data)
    advisory = load_catalog([tmp_path], builtin=False).advisories[0]
    assert advisory.title_in("zh") == "本地问题"
    assert advisory.cases[0].symptoms == {"en": ("63s delay",), "zh": ("63秒延迟",)}
    [workaround] = advisory.workarounds_for(["broken"])
    assert (workaround.describe("zh"), workaround.cases) == ("这样做。", ("broken",))
    assert advisory.workarounds_for(["other"]) == ()


def test_every_builtin_advisory_has_a_chinese_title() -> None:
    for advisory in load_catalog().advisories:
        assert advisory.title_zh, advisory.id


def test_a_valid_local_advisory_loads_next_to_the_builtin_ones(tmp_path: Path) -> None:
    write(tmp_path, "LOCAL-TEST-ONE.yaml", GOOD)
    catalog = load_catalog([tmp_path])
    assert catalog.get("local-test-one") is not None
    assert catalog.version.endswith("+local")


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"colour": "red"}, "colour", "unknown field"),
        ({"recommendation": None}, "recommendation", "missing"),
        ({"component": "flannel"}, "component", "unknown component"),
        ({"decided_by": "luck"}, "decided_by", "unknown value"),
        ({"id": "lower-case"}, "id", "not an id"),
        ({"references": [{"type": "BLOG", "url": "https://x.test"}]}, "references[0].type",
         "unknown type"),
        ({"cases": [{**GOOD["cases"][0], "when": {"calico": [{"introduced": "3.x"}]}}]},
         "cases[broken].when.calico[0]", "bad version"),
        ({"cases": [{**GOOD["cases"][0], "when": {"flannel-mode": ["vxlan"]}}]},
         "cases[broken].when.flannel-mode", "unknown fact or feature"),
        ({"cases": [{**GOOD["cases"][0], "when": {"proxy-mode": ["userspace"]}}]},
         "cases[broken].when.proxy-mode", "unknown value 'userspace'"),
        ({"cases": [{**GOOD["cases"][0], "when": {"rke2": "yes"}}]},
         "cases[broken].when.rke2", "true or false"),
        ({"cases": [{**GOOD["cases"][0], "severity": "urgent"}]},
         "cases[broken].severity", "valid: critical"),
        ({"cases": [{**GOOD["cases"][0], "when": {"calico": [{"fixed": "3.21.0"}]}}]},
         "cases[broken].when.calico", "no introduced"),
        ({"cases": [{**GOOD["cases"][0], "when": {"calico": [{"introduced": "3.21.0"},
                                                            {"fixed": "3.20.0"}]}}]},
         "cases[broken].when.calico", "not sorted"),
        ({"cases": [{**GOOD["cases"][0], "symptoms": {"fr": ["lent"]}}]},
         "cases[broken].symptoms.fr", "unknown language"),
        ({"cases": [{**GOOD["cases"][0], "symptoms": ["63s delay"]}]},
         "cases[broken].symptoms", "mapping of language"),
        ({"workaround": [{"command": "true", "cases": ["gone"]}]}, "workaround[0].cases",
         "unknown case 'gone'"),
        ({"workaround": [{"command": "true", "description_zh": 3}]},
         "workaround[0].description_zh", "must be a string"),
        ({"title_zh": ["标题"]}, "title_zh", "must be a string"),
    ],
)  # fmt: skip
def test_a_broken_advisory_is_reported_with_file_id_and_field(
    tmp_path: Path, change: dict[str, object], field: str, words: str
) -> None:
    path = write(tmp_path, "broken.yaml", {**GOOD, **change})
    found = problems(tmp_path)
    assert any(str(path) in p and f": {field}: " in p and words in p for p in found), found
    advisory_id = change.get("id", GOOD["id"])
    assert any(f"[{advisory_id}]" in p for p in found), found


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", {**GOOD, "colour": "red", "component": "flannel"})
    write(tmp_path, "b.yaml", "- not a mapping")
    (tmp_path / "c.yaml").write_text("id: [unclosed", encoding="utf-8")
    found = problems(tmp_path)
    assert len(found) >= 4
    assert any("b.yaml" in p for p in found) and any("c.yaml" in p and "yaml" in p for p in found)


def test_duplicate_ids_are_an_error_naming_both_files(tmp_path: Path) -> None:
    write(tmp_path, "one.yaml", GOOD)
    write(tmp_path, "two.yaml", GOOD)
    found = problems(tmp_path)
    assert any("duplicate id" in p and "one.yaml" in p for p in found), found


def test_a_local_advisory_cannot_reuse_a_builtin_id(tmp_path: Path) -> None:
    write(tmp_path, "mine.yaml", {**GOOD, "id": "KP-IPVS-CONN-REUSE", "component": "kube-proxy",
                                  "cases": [{**GOOD["cases"][0], "when": {}}]})  # fmt: skip
    with pytest.raises(CatalogError, match="duplicate id"):
        load_catalog([tmp_path])


def test_builtin_catalog_directory_is_shipped_with_a_readme() -> None:
    assert (builtin_catalog_dir() / "README.md").is_file()
