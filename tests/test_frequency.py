"""Fact and subject frequencies: the replayed sampler against the texts a build actually trained on, and
a probe file's own frequency column."""

from dataclasses import replace

import numpy as np
import polars as pl
import pytest

import trajectory.suite.build as build
from trajectory.config import AblationSection, FrequencySection, ModelSection, PipelineConfig
from trajectory.errors import TrajectoryError
from trajectory.facts import load_builtin, load_probe_set
from trajectory.hub.source import RevisionSource
from trajectory.pipeline.frequency import buckets, frequency_frame, published_counts
from trajectory.suite.corpus import fact_sentences
from trajectory.suite.frequency import corpus_counts
from trajectory.suite.recipe import checkpoint_steps


def whole_word_count(text: str, word: str) -> int:
    """Occurrences of ``word`` in ``text`` not touching a letter, digit or underscore, by scanning."""
    inside = lambda ch: ch.isalnum() or ch == "_"
    n = 0
    for i in range(len(text) - len(word) + 1):
        if (
            text[i : i + len(word)] == word
            and (i == 0 or not inside(text[i - 1]))
            and (i + len(word) == len(text) or not inside(text[i + len(word)]))
        ):
            n += 1
    return n


@pytest.mark.parametrize("individuals", [0, 3])  # with invented subjects' facts among the trained sentences too
def test_replayed_counts_are_those_of_the_trained_texts(tmp_path, monkeypatch, individuals):
    from transformers import AutoTokenizer

    batches = []
    original = build.sample_batch

    def spy(*args, **kwargs):
        batches.append(original(*args, **kwargs))
        return batches[-1]

    monkeypatch.setattr(build, "sample_batch", spy)
    config = replace(
        build.SMALL,
        repo_id="test/frequency",
        steps=12,
        n_checkpoints=3,
        warmup_steps=2,
        corpus=replace(build.SMALL.corpus, individuals=individuals, individual_share=0.5 if individuals else 0.0),
    )
    build.build_suite(config, tmp_path, progress=False, pinned=False)  # in this process: the spy sees its batches
    tokenizer = AutoTokenizer.from_pretrained(config.repo_id, revision="main", cache_dir=tmp_path, local_files_only=True)
    texts_per_step = [
        [tokenizer.decode([t for t in row.tolist() if t not in (tokenizer.pad_token_id, tokenizer.eos_token_id)]) for row in batch]
        for batch in batches
    ]
    facts = list(load_builtin())
    wordings = [set(fact_sentences(f)) for f in facts]
    counts = corpus_counts(config)
    assert sorted(counts) == sorted(checkpoint_steps(config) | {config.steps})
    for step, (fact_count, subject_count) in counts.items():
        texts = [t for batch in texts_per_step[:step] for t in batch]
        expected_facts = [sum(t in wording for t in texts) for wording in wordings]
        expected_subjects = [sum(whole_word_count(t, f.subject) for t in texts) for f in facts]
        assert fact_count.tolist() == expected_facts and subject_count.tolist() == expected_subjects
    assert counts[config.steps][0].sum() > 0 and (counts[config.steps][1] > counts[config.steps][0]).any()  # not vacuous
    # The build publishes them beside each checkpoint; the pipeline reads them from there, matched by fact.
    source = RevisionSource(config.repo_id, cache_dir=tmp_path, offline=True)
    revisions = source.list_revisions()
    published = published_counts(source, revisions)
    assert list(published) == [r.name for r in revisions]
    for revision in revisions:
        fact_count, subject_count = counts[config.steps if revision.is_main else revision.step]
        assert published[revision.name]["fact_count"].to_list() == fact_count.tolist()
        assert published[revision.name]["subject_count"].to_list() == subject_count.tolist()
    pipeline = PipelineConfig(name="x", model=ModelSection(repo_id=config.repo_id), frequency=FrequencySection(high=3, low=1))
    shuffled = load_probe_set_from(tmp_path, facts[::-7])
    frame = frequency_frame(pipeline, shuffled, published)
    final = dict(zip(frame.filter(pl.col("revision") == "main")["fact_id"], frame.filter(pl.col("revision") == "main")["fact_count"]))
    assert final == {
        f.fact_id: int(counts[config.steps][0][facts.index(next(g for g in facts if g.subject == f.subject and g.relation == f.relation))])
        for f in shuffled
    }
    assert set(frame["bucket"]) <= {"high", "medium", "low"} and frame["revision"].n_unique() == len(revisions)


def load_probe_set_from(folder, facts):
    """A probe file of these facts, in this order (fact ids follow the file)."""
    path = folder / "some.tsv"
    path.write_text("relation\ttemplate\tsubject\tobject\n" + "".join(f"{f.relation}\t{f.template}\t{f.subject}\t{f.object}\n" for f in facts))
    return load_probe_set(path)


def test_buckets_and_a_probe_files_frequency_column(tmp_path):
    assert buckets(np.array([0, 2, 3, 5, 6, 9]), high=6, low=3).tolist() == ["low", "low", "medium", "medium", "high", "high"]
    path = tmp_path / "mine.tsv"
    path.write_text(
        "relation\ttemplate\tsubject\tobject\tfrequency\n"
        "capital\tThe capital of {} is\tFrance\tParis\t12\n"
        "capital\tThe capital of {} is\tSpain\tMadrid\t\n"
        "capital\tThe capital of {} is\tItaly\tRome\t2\n"
    )
    probes = load_probe_set(path)
    assert [f.frequency for f in probes] == [12, None, 2]
    config = PipelineConfig(name="mine", model=ModelSection(repo_id="org/model"), frequency=FrequencySection(high=10, low=3))
    frame = frequency_frame(config, probes, {})
    assert frame["fact_id"].to_list() == [0, 2] and frame["bucket"].to_list() == ["high", "low"]
    assert frame["revision"].null_count() == 2 and frame["fact_count"].to_list() == [12, 2]
    assert frequency_frame(config, load_builtin(), {}) is None  # no counts known: no rows
    path.write_text("relation\ttemplate\tsubject\tobject\tfrequency\ncapital\tThe capital of {} is\tFrance\tParis\tmany\n")
    with pytest.raises(TrajectoryError, match="line 2: frequency must be a whole number"):
        load_probe_set(path)
    with pytest.raises(TrajectoryError, match="frequency.low"):
        FrequencySection(high=2, low=3)
    with pytest.raises(TrajectoryError, match="store.circuits = true"):
        PipelineConfig(name="x", model=ModelSection(repo_id="org/model"), ablation=AblationSection(enabled=True))
