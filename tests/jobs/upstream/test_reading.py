"""Reading one reference: upstream's conventions for cherry-picks, release lines and tags."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobs.upstream.models import Mention, Tag
from jobs.upstream.reading import first_containing, is_cherry_pick_of, release_line, release_tags

# --------------------------------------------------------------------------------------------
# Upstream conventions


@pytest.mark.parametrize(
    ("title", "body", "labels", "expected"),
    [
        ("Automated cherry pick of #122204: Fix race condition", "", (), True),
        ("Automated cherry pick of #122100: x #122204: Fix race", "", (), True),
        ("Cherry pick #3658 from master to release-v3.15", "", (), False),  # another number
        ("[release-v3.28] Auto pick #122204: Execute MASQ rules after kube-proxy", "", (), True),
        ("auto cherry pick PR 122204 to branch release-v0.3", "", (), True),
        ("fix the logic (cherry-picked from #122204)", "", (), True),
        ("[release-1.29] backport of #122204", "", (), True),
        # Spiderpool's robot keeps the title and names the original in the body, with a label.
        (
            "fix the logic of obtaining kubeadm-config",
            "robot cherry pick PR <https://github.com/spidernet-io/spiderpool/pull/122204> from "
            "ty-dc,to branch release-v0.9",
            ("robot-cherrypick",),
            True,
        ),
        (
            "fix the logic of obtaining kubeadm-config",
            "robot cherry pick PR <https://github.com/spidernet-io/spiderpool/pull/122204>",
            (),
            False,
        ),
        ('Revert "Automated cherry pick of #122204"', "", (), False),
        ("Update CHANGELOG for v1.29.2", "Mentions #122204", (), False),
        ("Automated cherry pick of #1222045: another PR", "", (), False),
    ],
)
def test_cherry_picks_are_recognised_by_upstream_naming_conventions(
    title: str, body: str, labels: tuple[str, ...], expected: bool
) -> None:
    assert is_cherry_pick_of(Mention(999, title, body, labels), 122204) is expected


@pytest.mark.parametrize(
    ("branch", "line"),
    [
        ("release-1.29", (1, 29)),
        ("release-v3.28", (3, 28)),
        ("release-v0.9", (0, 9)),
        ("master", None),
        ("main", None),
        ("release-1.29-hotfix", None),
        (None, None),
    ],
)
def test_release_branches_name_their_line(branch: str | None, line: tuple[int, int] | None) -> None:
    assert release_line(branch) == line


def test_only_final_tags_without_a_vendor_suffix_are_releases() -> None:
    names = [
        "v1.29.2",
        "v1.29.0",
        "v1.30.0-rc.1",
        "v3.28.0-0.dev",
        "api/v1.0.0",
        "v1",
        "x",
        "v1.29.10",
        "v0.9.0-rc0",
    ]
    lines = release_tags([Tag(n, n) for n in names])
    assert {line: [t.tag.name for t in tags] for line, tags in lines.items()} == {
        (1, 29): ["v1.29.0", "v1.29.2", "v1.29.10"],
    }


@given(st.integers(min_value=0, max_value=40), st.integers(min_value=0, max_value=40))
def test_the_first_containing_tag_is_found_by_binary_search(size: int, first: int) -> None:
    tags = release_tags([Tag(f"v1.0.{i}", str(i)) for i in range(size)])[(1, 0)] if size else []
    asked: list[int] = []

    def contains(tag: Tag) -> bool:
        asked.append(int(tag.sha))
        return int(tag.sha) >= first

    found = first_containing(tags, contains)
    assert (found.tag.sha if found else None) == (str(first) if first < size else None)
    assert len(asked) <= max(1, size).bit_length() + 1
