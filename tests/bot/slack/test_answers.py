"""Answers as people read them: Block Kit that slack_sdk's models accept, the same conditions in
Slack and the terminal, a "Show all" button for folded advisories, phone-sized lengths, and
golden terminal outputs (regenerate with ``UPDATE_GOLDEN=1``) so that their shape is reviewed in
diffs."""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from advisories.answers import Answer, condition_text, folded_text
from bot.slack.answers import SHOW_ALL_ACTION, answer_blocks
from bot.slack.blocks import MAX_SECTION as MAX_TEXT
from bot.slack.blocks import escape
from tests.advisories.test_answers import QUESTIONS, ask

GOLDEN = Path(__file__).parents[1] / "golden"


def blocks_of(ans: Answer) -> list[dict[str, Any]]:
    blocks = answer_blocks(ans)
    for block in blocks:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
    return blocks


@pytest.mark.parametrize("text", QUESTIONS)
def test_every_answer_is_valid_block_kit_within_slacks_limits(text: str) -> None:
    blocks = blocks_of(ask(text))
    assert 1 <= len(blocks) <= 50
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= MAX_TEXT
    ids = [b["block_id"] for b in blocks if "block_id" in b]
    assert len(ids) == len(set(ids))


def test_a_typical_answer_is_within_eight_blocks() -> None:
    counts = [len(blocks_of(ask(text))) for text in QUESTIONS]
    assert statistics.median(counts) <= 8
    assert max(counts) <= 12


@pytest.mark.parametrize("text", QUESTIONS)
def test_slack_and_the_terminal_state_the_same_conditions(text: str) -> None:
    ans = ask(text)
    body = json.dumps(blocks_of(ans), ensure_ascii=False)
    for advisory_id in ans.lead:
        condition, uncertain = condition_text(ans, ans.result(advisory_id))
        for part in (condition, uncertain):
            if part:
                assert part in ans.text()
                assert json.dumps(escape(part), ensure_ascii=False)[1:-1] in body


def test_folded_advisories_get_one_line_and_a_show_all_button() -> None:
    ans = ask("is kernel 5.4 safe for IPVS?")
    blocks = blocks_of(ans)
    [actions] = [b for b in blocks if b["type"] == "actions"]
    [button] = actions["elements"]
    assert button["action_id"] == SHOW_ALL_ACTION
    assert button["value"] == "is kernel 5.4 safe for IPVS?"
    assert folded_text(ans, slack=True) in json.dumps(blocks)
    assert not [
        b for b in blocks_of(ask("k8s 1.30 + 内核 5.15 + ipvs 安全吗")) if b["type"] == "actions"
    ]


def test_answers_keep_workaround_descriptions_for_the_case_that_holds() -> None:
    body = json.dumps(blocks_of(ask("is kernel 5.4 safe for IPVS?")))
    assert "Check the value kube-proxy left on a node" in body
    assert "sysctl -w" not in body


GOLDEN_QUESTIONS = {
    "answer-kernel-5-4-ipvs.txt": "is kernel 5.4 safe for IPVS?",
    "answer-63s-delay.txt": "we see 63s delays on nodeport with calico vxlan",
    "answer-rke2-spiderpool-zh.txt": "rke2 集群 spiderpool 0.9.3 创建 pod 失败",
    "answer-spiderpool-upgrade.txt": "is it safe to upgrade spiderpool from 0.7.0 to 0.9.0?",
    "answer-cilium.txt": "is cilium 1.14 ok with kernel 5.4?",
    "answer-ubuntu-22-04.txt": "is ubuntu 22.04 with ipvs and k8s 1.28 fine?",
}


@pytest.mark.parametrize(("name", "question"), sorted(GOLDEN_QUESTIONS.items()))
def test_terminal_answers_match_their_golden_files(name: str, question: str) -> None:
    actual = f"$ netadvisor ask {question!r}\n{ask(question).text()}\n"
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(actual, encoding="utf-8")
    assert actual == golden.read_text(encoding="utf-8"), "run with UPDATE_GOLDEN=1 to regenerate"
