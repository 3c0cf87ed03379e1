"""Prompt files (prompts/*.yaml): validation on load, content hashes, message layout, routing.

The shipped prompts are loaded for real; broken variants are written to tmp_path copies,
so every rejection below is the loader's own check, not a hand-built object.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from extractor.chunk import count_tokens
from extractor.core.errors import PromptError
from extractor.core.settings import Settings
from extractor.extractors.model.routing import RoutingConfig, batches, routed, split
from extractor.extractors.model.schemas import SECTIONS
from extractor.prompts import (
    Prompt,
    load_prompts,
    parse_user_message,
    section_of_message,
    user_message,
)
from tests.conftest import SAMPLE_IDS, text_document

PROMPTS = Settings().prompts_dir


@pytest.fixture(scope="module")
def prompts() -> list[Prompt]:
    return load_prompts(PROMPTS)


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "prompts"
    shutil.copytree(PROMPTS, target)
    return target


def _edit(path: Path, change: Any) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


# --------------------------------------------------------------------------- loading


def test_one_valid_prompt_per_contract_section(prompts: list[Prompt]) -> None:
    assert [p.section for p in prompts] == sorted(SECTIONS)
    for prompt in prompts:
        assert re.fullmatch(r"[0-9a-f]{64}", prompt.content_hash)
        assert set(prompt.spec.fields) == set(SECTIONS[prompt.section].paths)
        assert prompt.spec.examples, prompt.section


def test_examples_show_the_noise_of_real_ocr_output(prompts: list[Prompt]) -> None:
    """Together the (synthetic) examples show the noise the documents have: markup round
    figures, O for 0, thousands separators, tabs. That they are not copied from a gold
    document is checked in ``test_prompt_examples``."""
    noise = {"<u>": 0, "**": 0, "O.OO": 0, ",": 0, "\t": 0}
    for prompt in prompts:
        for example in prompt.spec.examples:
            assert example.source.startswith("synthetic"), (prompt.section, example.source)
            for mark in noise:
                noise[mark] += example.input.count(mark)
    assert all(noise.values()), noise


def test_content_hash_follows_content_not_formatting(tmp_path: Path, prompts: list[Prompt]) -> None:
    folder = _copy(tmp_path)
    before = {p.section: p.content_hash for p in prompts}
    path = folder / "summary.yaml"
    path.write_text("# a comment changes nothing\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    _edit(folder / "expense_uses.yaml", lambda d: None)  # re-serialized: new layout, same content
    assert {p.section: p.content_hash for p in load_prompts(folder)} == before

    _edit(folder / "summary.yaml", lambda d: d.update(instructions=d["instructions"] + "再核对一遍。"))
    after = {p.section: p.content_hash for p in load_prompts(folder)}
    assert after["summary"] != before["summary"]
    assert {k: v for k, v in after.items() if k != "summary"} == \
        {k: v for k, v in before.items() if k != "summary"}

    _edit(folder / "_shared.yaml", lambda d: d.update(preamble=d["preamble"] + "7. 认真。"))
    shared_changed = {p.section: p.content_hash for p in load_prompts(folder)}
    assert all(shared_changed[s] != after[s] for s in after)


def test_example_citing_text_that_is_not_there_is_rejected(tmp_path: Path) -> None:
    folder = _copy(tmp_path)

    def bad_quote(data: dict[str, Any]) -> None:
        data["examples"][0]["output"]["basic"]["quote"] = "本年基本支出999.99万元"

    _edit(folder / "expense_uses.yaml", bad_quote)
    with pytest.raises(PromptError,
                       match=r"expense_uses\.yaml: example 1: expense_uses\.basic .*quote not in chunk"):
        load_prompts(folder)


def test_example_value_must_be_readable_from_its_quote(tmp_path: Path) -> None:
    folder = _copy(tmp_path)

    def bad_value(data: dict[str, Any]) -> None:
        data["examples"][0]["output"]["basic"]["value"] = "818.74万元"

    _edit(folder / "expense_uses.yaml", bad_value)
    with pytest.raises(PromptError, match="value not in quote"):
        load_prompts(folder)


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["fields"].pop("expense_uses.operating"), r"missing \['expense_uses.operating'\]"),
    (lambda d: d["fields"].update({"expense_uses.bonus": "奖金"}), r"unknown \['expense_uses.bonus'\]"),
    (lambda d: d.update(section="expenses"), "unknown section 'expenses'"),
    (lambda d: d.update(examples=[]), "at least 1 item"),
    (lambda d: d.update(surprise=1), "Extra inputs are not permitted"),
    (lambda d: d["examples"][0]["output"].update(basic={"value": "1"}), "does not match ExpenseUsesReply"),
])
def test_malformed_prompt_files_are_rejected_with_the_file_named(tmp_path: Path, change: Any,
                                                                 message: str) -> None:
    folder = _copy(tmp_path)
    _edit(folder / "expense_uses.yaml", change)
    with pytest.raises(PromptError, match=message) as err:
        load_prompts(folder)
    assert "expense_uses.yaml" in str(err.value)


def test_missing_duplicate_and_unreadable_files(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "three_public.yaml").unlink()
    with pytest.raises(PromptError, match=r"no prompt for section\(s\) \['three_public'\]"):
        load_prompts(folder)
    shutil.copy(folder / "other.yaml", folder / "other_again.yaml")
    shutil.copy(PROMPTS / "three_public.yaml", folder / "three_public.yaml")
    with pytest.raises(PromptError, match="section 'other' is also defined"):
        load_prompts(folder)
    (folder / "other_again.yaml").write_text("section: [unclosed", encoding="utf-8")
    with pytest.raises(PromptError, match="cannot read"):
        load_prompts(folder)
    (folder / "_shared.yaml").unlink()
    with pytest.raises(PromptError, match=r"_shared\.yaml: missing"):
        load_prompts(folder)


# --------------------------------------------------------------------------- messages


def test_system_message_is_a_fixed_prefix_and_chunks_come_last(prompts: list[Prompt]) -> None:
    doc = text_document(SAMPLE_IDS[0])
    for prompt in prompts:
        system = prompt.system_message
        assert section_of_message(system) == prompt.section
        assert system.index("## 本节任务") < system.index("## 示例")
        assert not any(c.text in system for c in doc.chunks if len(c.text) > 40)
    user = user_message(doc.chunks[8:11])
    sent = parse_user_message(user)
    assert [s.text for s in sent] == [c.text for c in doc.chunks[8:11]]
    assert [s.heading_path for s in sent] == [c.heading_path for c in doc.chunks[8:11]]


def test_examples_render_as_the_model_will_see_real_chunks(prompts: list[Prompt]) -> None:
    """Example inputs are normalized like chunks are: the model is shown 0.00, not <u>O.OO</u>."""
    summary = next(p for p in prompts if p.section == "summary")
    assert "使用非财政拨款结余(含专用结余) 0.00 万元" in summary.system_message
    assert "<u>" not in summary.system_message
    rendered = summary.system_message.split("### 示例 1 输出\n", 1)[1].split("\n", 1)[0]
    assert json.loads(rendered)["income_nonfiscal_surplus_used"]["value"] == "0.00万元"


# --------------------------------------------------------------------------- routing


EXPECTED_WORDING = {
    "summary": "总计", "income_sources": "财政拨款收入", "expense_uses": "基本支出",
    "general_budget": "支出决算", "basic_expense": "人员经费", "three_public": "公务用车",
    "other": "政府采购", "performance_projects": "自评",
}


@pytest.mark.parametrize("doc_id", SAMPLE_IDS)
def test_routing_sends_each_section_its_own_chunks_once(prompts: list[Prompt], doc_id: str) -> None:
    doc = text_document(doc_id)
    for prompt in prompts:
        chunks = routed(prompt.spec.routing, doc.chunks)
        indexes = [c.index for c in chunks]
        assert indexes == sorted(set(indexes)), prompt.section
        assert chunks, (doc_id, prompt.section)
        assert any(EXPECTED_WORDING[prompt.section] in c.text for c in chunks), (doc_id, prompt.section)
        assert not any("名词解释" in " ".join(c.heading_path) for c in chunks)
        packed = batches(chunks, RoutingConfig())
        assert [c.index for b in packed for c in b] == indexes
        assert all(sum(c.tokens for c in b) <= 3000 or len(b) == 1 for b in packed)


@pytest.mark.parametrize("doc_id", SAMPLE_IDS)
def test_routing_sends_a_fraction_of_the_document(prompts: list[Prompt], doc_id: str) -> None:
    """Chunk tokens over all sections, routed vs. the whole document per section."""
    doc = text_document(doc_id)
    whole = len(prompts) * sum(c.tokens for c in doc.chunks)
    sent = sum(c.tokens for p in prompts for c in routed(p.spec.routing, doc.chunks))
    assert whole >= 8 * sent, (doc_id, whole, sent)


def test_routing_keywords_follow_the_outline_not_substrings(prompts: list[Prompt]) -> None:
    """三、支出决算情况说明 is expense_uses; 五、一般公共预算财政拨款支出决算情况说明 is not."""
    doc = text_document(SAMPLE_IDS[0])
    expense = next(p for p in prompts if p.section == "expense_uses")
    headings = {c.heading_path[-1] for c in routed(expense.spec.routing, doc.chunks)}
    assert headings == {"三、支出决算情况说明"}


def test_split_halves_a_batch_by_tokens() -> None:
    chunks = text_document(SAMPLE_IDS[0]).chunks[14:19]
    halves = split(chunks)
    assert len(halves) == 2 and halves[0] + halves[1] == tuple(chunks)
    assert split(chunks[:1]) == []
    assert count_tokens(chunks[0].text) > 0
