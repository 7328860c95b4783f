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


# The Hub's branch lists as the families publish them.
PYTHIA = ["step0"] + [f"step{2 ** k}" for k in range(10)] + [f"step{s}" for s in range(1000, 143001, 1000)]
OLMO_2 = (["stage1-step1000-tokens5B", "stage1-step2000-tokens9B", "stage1-step10000-tokens42B", "stage1-step928646-tokens3896B"]
          + [f"stage2-ingredient{k}-step{s}-tokens{t}B" for k in (1, 2, 3) for s, t in ((1000, 5), (11931, 50))])


def test_pythia_and_olmo_2_names_order():
    import random

    assert len(PYTHIA) == 154
    shuffled = PYTHIA + ["main"]
    random.Random(0).shuffle(shuffled)
    assert [r.name for r in order_revisions(shuffled)] == PYTHIA + ["main"]
    later = parse_revision("stage2-ingredient3-step11931-tokens50B")
    assert (later.stage, later.ingredient, later.step, later.tokens) == (2, 3, 11931, 50 * 10**9)
    assert parse_revision("stage1-step928646-tokens3896B").stage == 1 and parse_revision("step143000").stage is None
    shuffled = OLMO_2 + ["main", "v0-custom"]
    random.Random(1).shuffle(shuffled)
    # By stage, then ingredient, then step; a name with no step after the numbered ones, main last.
    assert [r.name for r in order_revisions(shuffled)] == OLMO_2 + ["v0-custom", "main"]


@pytest.mark.parametrize("pipeline", ["pythia-160m", "pythia-6.9b"])
def test_pythia_pipelines_list_offline_from_a_cache_with_the_real_branches(pipeline, tmp_path, capsys):
    from trajectory.cli import main
    from trajectory.paths import PIPELINES_DIR

    config = load_pipeline(pipeline)
    refs = tmp_path / "hub" / ("models--" + config.repo_id.replace("/", "--")) / "refs"
    refs.mkdir(parents=True)
    for i, name in enumerate(PYTHIA + ["main"]):
        (refs / name).write_text(f"{i:040x}")
    text = (PIPELINES_DIR / f"{pipeline}.toml").read_text()
    path = tmp_path / f"{pipeline}.toml"
    path.write_text(text.replace("[model]\n", f'[model]\ncache_dir = "{tmp_path / "hub"}"\noffline = true\n', 1))
    assert main(["revisions", "-p", str(path)]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:]]
    steps = [parse_revision(n).step for n in listed]
    assert len(listed) == 40 and steps == sorted(steps) and steps[0] == 0 and steps[-1] == 143000
    assert sum(s <= 512 for s in steps) == 11 and "main" not in listed  # the early ones dense; main is step143000


def test_the_study_pipeline_selects_its_40_names_from_the_branches():
    """A pipeline's list of names (joined in the config, with its exclusions) selects exactly those."""
    from trajectory.pipeline.sources import selected_revisions

    config = load_pipeline("olmo-7b-0424")
    branches = order_revisions(config.revisions.split(",") + ["step115000-tokens482B", "step1000-tokens4B"])

    class Branches:
        def list_revisions(self):
            return branches

    chosen = selected_revisions(config, Branches())
    assert [r.name for r in chosen] == config.revisions.split(",")


def fake_cache(root, repo: str, branches: list[str], main_lists: list[str] | None = None):
    """A Hugging Face cache holding only refs (and main's revisions.txt when given)."""
    folder = root / ("models--" + repo.replace("/", "--"))
    (folder / "refs").mkdir(parents=True)
    for i, name in enumerate(branches):
        (folder / "refs" / name).write_text(f"{i:040x}")
    if main_lists is not None:
        snapshot = folder / "snapshots" / (folder / "refs" / "main").read_text()
        snapshot.mkdir(parents=True)
        (snapshot / "revisions.txt").write_text("\n".join(main_lists) + "\n")


def test_mains_revisions_txt_lists_the_branches_not_in_the_cache(tmp_path):
    from trajectory.hub.source import RevisionSource

    fake_cache(tmp_path, "a/olmo", ["main", "step10000-tokens41B"], ["step5000-tokens20B", "step10000-tokens41B", "step15000-tokens62B"])
    listed = RevisionSource("a/olmo", cache_dir=tmp_path, offline=True).list_revisions()
    assert [r.name for r in listed] == ["step5000-tokens20B", "step10000-tokens41B", "step15000-tokens62B", "main"]


def test_a_pipelines_own_pattern_orders_other_names(tmp_path, capsys):
    from trajectory.cli import main

    names = ["ckpt-s2-500-10B", "ckpt-s1-900-4B", "ckpt-s1-30-1B", "ckpt-s2-40-9B", "final"]
    fake_cache(tmp_path / "hub", "lab/model", names)
    path = tmp_path / "p.toml"
    path.write_text(f'[model]\nrepo = "lab/model"\ncache_dir = "{tmp_path / "hub"}"\noffline = true\n'
                    '[revisions]\nselect = "all"\npattern = "ckpt-s(?P<stage>\\\\d+)-(?P<step>\\\\d+)-(?P<tokens>\\\\d+[KMBT])"\n')
    assert main(["revisions", "-p", str(path)]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
    assert [r[0] for r in rows] == ["ckpt-s1-30-1B", "ckpt-s1-900-4B", "ckpt-s2-40-9B", "ckpt-s2-500-10B", "final"]
    assert rows[3][1:3] == ["500", "10,000,000,000"]
    path.write_text('[model]\nrepo = "lab/model"\n[revisions]\npattern = "ckpt-(?P<steps>\\\\d+)"\n')
    with pytest.raises(TrajectoryError, match=r"p.toml: revisions.pattern: needs a named group 'step'"):
        load_pipeline(path)
