import pytest

from trajectory.config import load_pipeline
from trajectory.errors import TrajectoryError
from trajectory.hub.revisions import order_revisions, parse_revision, select_revisions

OLMO = [f"step{s}-tokens{t}B" for s, t in [(5000, 20), (10000, 41), (15000, 62), (115000, 482), (200000, 838)]]


def test_parse_names():
    assert parse_revision("step5000-tokens20B").step == 5000
    assert parse_revision("step5000-tokens20B").tokens == 20 * 10**9
    assert parse_revision("step24-tokens16K").tokens == 16_000
    assert parse_revision("step300").step == 300 and parse_revision("step300").tokens is None
    assert parse_revision("main").is_main and parse_revision("main").step is None
    assert parse_revision("v1.0-final").step is None


def test_order_by_step_with_main_last():
    names = ["main", "step200000-tokens838B", "other", "step5000-tokens20B", "step10000-tokens41B"]
    assert [r.name for r in order_revisions(names)] == [
        "step5000-tokens20B", "step10000-tokens41B", "step200000-tokens838B", "other", "main"]


def test_selection_specs():
    available = order_revisions(OLMO + ["main"])
    names = lambda spec: [r.name for r in select_revisions(spec, available)]
    assert names("all") == OLMO + ["main"]
    assert names("main,step5000-tokens20B") == ["step5000-tokens20B", "main"]
    assert names("5000:15000:5000") == OLMO[:3]
    assert names("10000:") == OLMO[1:]
    assert names("all,-step115000-tokens482B") == [n for n in OLMO if "115000" not in n] + ["main"]
    assert names(["5000:200000:5000", "main", "!step115000-tokens482B"]) == [n for n in OLMO if "115000" not in n] + ["main"]


def test_unknown_revision_lists_nearest_names():
    available = order_revisions(OLMO + ["main"])
    with pytest.raises(TrajectoryError) as err:
        select_revisions("step10000-tokens40B", available)
    assert "step10000-tokens41B" in str(err.value)
    with pytest.raises(TrajectoryError, match="nearest: step15000-tokens62B"):
        select_revisions("step14000", available)
    with pytest.raises(TrajectoryError, match="selects nothing"):
        select_revisions("1:10", available)


def test_study_pipeline_has_exactly_the_40_revisions():
    config = load_pipeline("olmo-7b-0424")
    names = config.revisions.split(",")
    assert len(names) == 40 and names[-1] == "main"
    steps = [parse_revision(n).step for n in names[:-1]]
    assert steps == [s for s in range(5000, 200001, 5000) if s != 115000]
    assert "step10000-tokens41B" in names and "step200000-tokens838B" in names


def test_bad_pipeline_file(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[model]\nrepo = "x/y"\ntypo = 1\n')
    with pytest.raises(TrajectoryError, match="unknown key 'model.typo'"):
        load_pipeline(path)
    path.write_text('[model]\nrepo = "x/y"\n[ifr]\nthreshold = "high"\n')
    with pytest.raises(TrajectoryError, match="ifr.threshold must be"):
        load_pipeline(path)
    with pytest.raises(TrajectoryError, match="not found"):
        load_pipeline("no-such-pipeline")
