"""Fact and subject frequencies: the replayed sampler against the texts a build actually trained on, and
a probe file's own frequency column."""

from dataclasses import replace

import numpy as np
import pytest

import trajectory.suite.build as build
from trajectory.config import PipelineConfig
from trajectory.errors import TrajectoryError
from trajectory.facts import load_builtin, load_probe_set
from trajectory.pipeline.frequency import buckets, frequency_frame
from trajectory.suite.corpus import fact_sentences
from trajectory.suite.frequency import corpus_counts


def whole_word_count(text: str, word: str) -> int:
    """Occurrences of ``word`` in ``text`` not touching a letter, digit or underscore, by scanning."""
    inside = lambda ch: ch.isalnum() or ch == "_"
    n = 0
    for i in range(len(text) - len(word) + 1):
        if text[i:i + len(word)] == word and (i == 0 or not inside(text[i - 1])) and (
                i + len(word) == len(text) or not inside(text[i + len(word)])):
            n += 1
    return n


def test_replayed_counts_are_those_of_the_trained_texts(tmp_path, monkeypatch):
    from transformers import AutoTokenizer

    batches = []
    original = build._sample_batch

    def spy(*args, **kwargs):
        batches.append(original(*args, **kwargs))
        return batches[-1]

    monkeypatch.setattr(build, "_sample_batch", spy)
    config = replace(build.SMALL, repo_id="test/frequency", steps=12, n_checkpoints=3, warmup_steps=2)
    build.build_suite(config, tmp_path, progress=False)
    tokenizer = AutoTokenizer.from_pretrained(config.repo_id, revision="main", cache_dir=tmp_path, local_files_only=True)
    texts_per_step = [[tokenizer.decode([t for t in row.tolist() if t not in (tokenizer.pad_token_id, tokenizer.eos_token_id)])
                       for row in batch] for batch in batches]
    facts = list(load_builtin())
    wordings = [set(fact_sentences(f)) for f in facts]
    counts = corpus_counts(config)
    assert sorted(counts) == sorted(build._checkpoint_steps(config) | {config.steps})
    for step, (fact_count, subject_count) in counts.items():
        texts = [t for batch in texts_per_step[:step] for t in batch]
        expected_facts = [sum(t in wording for t in texts) for wording in wordings]
        expected_subjects = [sum(whole_word_count(t, f.subject) for t in texts) for f in facts]
        assert fact_count.tolist() == expected_facts and subject_count.tolist() == expected_subjects
    assert counts[config.steps][0].sum() > 0 and (counts[config.steps][1] > counts[config.steps][0]).any()  # not vacuous


def test_buckets_and_a_probe_files_frequency_column(tmp_path):
    assert buckets(np.array([0, 2, 3, 5, 6, 9]), high=6, low=3).tolist() == ["low", "low", "medium", "medium", "high", "high"]
    path = tmp_path / "mine.tsv"
    path.write_text("relation\ttemplate\tsubject\tobject\tfrequency\n"
                    "capital\tThe capital of {} is\tFrance\tParis\t12\n"
                    "capital\tThe capital of {} is\tSpain\tMadrid\t\n"
                    "capital\tThe capital of {} is\tItaly\tRome\t2\n")
    probes = load_probe_set(path)
    assert [f.frequency for f in probes] == [12, None, 2]
    config = PipelineConfig(name="mine", repo_id="org/model", frequency_high=10, frequency_low=3)
    frame = frequency_frame(config, probes, [])
    assert frame["fact_id"].to_list() == [0, 2] and frame["bucket"].to_list() == ["high", "low"]
    assert frame["revision"].null_count() == 2 and frame["fact_count"].to_list() == [12, 2]
    assert frequency_frame(config, load_builtin(), []) is None  # no counts known: no rows
    path.write_text("relation\ttemplate\tsubject\tobject\tfrequency\ncapital\tThe capital of {} is\tFrance\tParis\tmany\n")
    with pytest.raises(TrajectoryError, match="line 2: frequency must be a whole number"):
        load_probe_set(path)
    with pytest.raises(TrajectoryError, match="frequency.low"):
        PipelineConfig(name="x", repo_id="org/model", frequency_high=2, frequency_low=3)
    with pytest.raises(TrajectoryError, match="store.circuits = true"):
        PipelineConfig(name="x", repo_id="org/model", ablation=True)
