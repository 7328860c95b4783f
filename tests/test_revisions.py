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
    assert [r.name for r in order_revisions(names)] == ["step5000-tokens20B", "step10000-tokens41B", "step200000-tokens838B", "other", "main"]


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
    names = config.revisions.select.split(",")
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
PYTHIA = ["step0"] + [f"step{2**k}" for k in range(10)] + [f"step{s}" for s in range(1000, 143001, 1000)]
OLMO_2 = ["stage1-step1000-tokens5B", "stage1-step2000-tokens9B", "stage1-step10000-tokens42B", "stage1-step928646-tokens3896B"] + [
    f"stage2-ingredient{k}-step{s}-tokens{t}B" for k in (1, 2, 3) for s, t in ((1000, 5), (11931, 50))
]


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


# OLMo-2-1124-7B's stage-1 names as found in public listings (every ~20,000 steps, and the last stage-1
# checkpoint), two more stage-1 names, and the 33 stage-2 names of three ingredients.
OLMO_2_7B_STAGE1 = [
    f"stage1-step{s}-tokens{t}B"
    for s, t in (
        (150, 1),
        (15000, 63),
        (35000, 147),
        (55000, 231),
        (75000, 315),
        (95000, 399),
        (116000, 487),
        (136000, 571),
        (156000, 655),
        (177000, 743),
        (197000, 827),
        (217000, 911),
        (237000, 995),
        (248000, 1041),
        (257000, 1078),
        (277000, 1162),
        (297000, 1246),
        (318000, 1334),
        (338000, 1418),
        (358000, 1502),
        (378000, 1586),
        (398000, 1670),
        (418000, 1754),
        (438000, 1838),
        (458000, 1921),
        (478000, 2005),
        (498000, 2089),
        (518000, 2173),
        (539000, 2261),
        (559000, 2345),
        (579000, 2429),
        (599000, 2513),
        (620000, 2601),
        (641000, 2689),
        (661000, 2773),
        (682000, 2861),
        (702000, 2945),
        (722000, 3029),
        (742000, 3113),
        (762000, 3197),
        (782000, 3280),
        (802000, 3364),
        (822000, 3448),
        (842000, 3532),
        (862000, 3616),
        (882000, 3700),
        (902000, 3784),
        (922000, 3868),
        (928646, 3896),
    )
]
OLMO_2_7B_STAGE2 = [
    f"stage2-ingredient{k}-step{s}-tokens{t}B"
    for k in (1, 2, 3)
    for s, t in (
        (1000, 5),
        (2000, 9),
        (3000, 13),
        (4000, 17),
        (5000, 21),
        (6000, 26),
        (7000, 30),
        (8000, 34),
        (9000, 38),
        (10000, 42),
        (11000, 47),
        (11931, 50),
    )
]


def olmo_2_7b_stage1(step: int) -> str:
    """The Hub's stage-1 name of an OLMo-2-1124-7B step: 1024 × 4096 tokens a step, billions rounded up."""
    return f"stage1-step{step}-tokens{-(-step * 4_194_304 // 10**9)}B"


def test_olmo_2_pipeline_lists_40_stage_1_revisions_offline(tmp_path, capsys):
    from trajectory.cli import main
    from trajectory.paths import PIPELINES_DIR

    assert [olmo_2_7b_stage1(parse_revision(n).step) for n in OLMO_2_7B_STAGE1] == OLMO_2_7B_STAGE1
    # The Hub's stage-1 branches: every 1000 steps (those in the published lists among them), the first and last.
    stage1 = sorted(
        {olmo_2_7b_stage1(s) for s in [150, *range(1000, 928001, 1000), 928646]} | set(OLMO_2_7B_STAGE1), key=lambda n: parse_revision(n).step
    )
    fake_cache(tmp_path / "hub", "allenai/OLMo-2-1124-7B", OLMO_2_7B_STAGE2 + stage1 + ["main"])
    text = (PIPELINES_DIR / "olmo-2-1124-7b.toml").read_text()
    path = tmp_path / "olmo2.toml"
    path.write_text(text.replace("[model]\n", f'[model]\ncache_dir = "{tmp_path / "hub"}"\noffline = true\n', 1))
    assert main(["revisions", "-p", str(path)]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
    listed = [r[0] for r in rows]
    assert len(listed) == 40 and set(listed) <= set(stage1)
    assert listed[0] == "stage1-step150-tokens1B" and listed[-1] == "stage1-step928646-tokens3896B"
    steps = [parse_revision(n).step for n in listed]
    gaps = [b - a for a, b in zip(steps, steps[1:])]
    assert steps == sorted(steps) and 23000 <= min(gaps) and max(gaps) <= 24000  # evenly spaced
    assert rows[-1][1:3] == ["928646", "3,896,000,000,000"]
    # All of them, as the Hub lists them: stage 1 by step, then each ingredient of stage 2 by step, main last.
    assert main(["revisions", "-p", str(path), "-r", "all"]) == 0
    everything = [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:]]
    assert everything == stage1 + sorted(OLMO_2_7B_STAGE2, key=lambda n: (n[17], parse_revision(n).step)) + ["main"]


def test_the_study_pipeline_selects_its_40_names_from_the_branches():
    """A pipeline's list of names (joined in the config, with its exclusions) selects exactly those."""
    from trajectory.pipeline.sources import selected_revisions

    config = load_pipeline("olmo-7b-0424")
    branches = order_revisions(config.revisions.select.split(",") + ["step115000-tokens482B", "step1000-tokens4B"])

    class Branches:
        def list_revisions(self):
            return branches

    chosen = selected_revisions(config, Branches())
    assert [r.name for r in chosen] == config.revisions.select.split(",")


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
    path.write_text(
        f'[model]\nrepo = "lab/model"\ncache_dir = "{tmp_path / "hub"}"\noffline = true\n'
        '[revisions]\nselect = "all"\npattern = "ckpt-s(?P<stage>\\\\d+)-(?P<step>\\\\d+)-(?P<tokens>\\\\d+[KMBT])"\n'
    )
    assert main(["revisions", "-p", str(path)]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
    assert [r[0] for r in rows] == ["ckpt-s1-30-1B", "ckpt-s1-900-4B", "ckpt-s2-40-9B", "ckpt-s2-500-10B", "final"]
    assert rows[3][1:3] == ["500", "10,000,000,000"]
    path.write_text('[model]\nrepo = "lab/model"\n[revisions]\npattern = "ckpt-(?P<steps>\\\\d+)"\n')
    with pytest.raises(TrajectoryError, match=r"p.toml: revisions.pattern: needs a named group 'step'"):
        load_pipeline(path)
