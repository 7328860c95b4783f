import json

import pytest

from trajectory.errors import TrajectoryError
from trajectory.facts import LOCATION_RELATIONS, NAME_RELATIONS, load_builtin, load_probe_set

HEADER = "relation\ttemplate\tsubject\tobject\n"


def test_builtin_probe_set_matches_the_study():
    probes = load_builtin()
    assert len(probes) == 160
    counts = {r: sum(f.relation == r for f in probes) for r in probes.relations}
    assert counts == {
        "books_written": 13,
        "city_in_country": 14,
        "company_ceo": 17,
        "company_hq": 20,
        "country_capital_city": 19,
        "food_from_country": 17,
        "movie_directed": 17,
        "official_language": 14,
        "plays_sport": 12,
        "sights_in_city": 17,
    }
    assert set(counts) == LOCATION_RELATIONS | NAME_RELATIONS
    fact = probes.facts[5]
    assert fact.sentence == fact.template.format(fact.subject) + " " + fact.object
    assert fact.sentence[slice(*fact.subject_span)] == fact.subject
    assert fact.sentence[slice(*fact.object_span)] == fact.object


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "body, message",
    [
        ("r\t{} is in\tParis\n", "missing column"),
        ("r\t{} is in\t\tFrance\n", "line 2: empty subject"),
        ("r\t{} is in\tParis\t\n", "line 2: empty object"),
        ("r\tis in\tParis\tFrance\n", "line 2: template must contain exactly one {}"),
        ("r\t{} is {}\tParis\tFrance\n", "line 2: template must contain exactly one {}"),
        ("r\t{} is in\tParis\tFrance\nr\t{} is in\tParis\tFrance\n", "line 3: duplicate fact"),
        ("r\t{} is in\tParis\tFrance\nr\t{}  is  in\tParis\tFrance\n", "line 3: duplicate fact (r, 'Paris') with the same template (spaces aside)"),
        ("r\t{} is in\tParis\tFrance\nr\t{} lies in\tParis\tTexas\n", "line 3: (r, 'Paris') answers 'Texas' here but 'France' on line 2"),
    ],
)
def test_bad_tsv_fails_with_one_line_naming_file_and_line(tmp_path, body, message):
    header = "relation\ttemplate\tsubject\n" if message == "missing column" else HEADER
    path = _write(tmp_path, "bad.tsv", header + body)
    with pytest.raises(TrajectoryError) as err:
        load_probe_set(path)
    text = str(err.value)
    assert message in text and str(path) in text and "\n" not in text


def test_csv_and_json_probe_files(tmp_path):
    csv_path = _write(tmp_path, "p.csv", 'relation,template,subject,object\ncap,"The capital of {} is",France,Paris\n')
    assert load_probe_set(csv_path).facts[0].sentence == "The capital of France is Paris"
    json_path = _write(tmp_path, "p.json", json.dumps([{"relation": "cap", "template": "{} has", "subject": "X", "object": "Y"}]))
    assert load_probe_set(json_path).facts[0].object == "Y"
    bad = _write(tmp_path, "q.json", json.dumps([{"relation": "cap", "template": "{} has", "subject": "X"}]))
    with pytest.raises(TrajectoryError, match="fact 1: missing field"):
        load_probe_set(bad)


def test_missing_or_unknown_probe_file(tmp_path):
    with pytest.raises(TrajectoryError, match="not found"):
        load_probe_set(tmp_path / "nope.tsv")
    with pytest.raises(TrajectoryError, match="unknown probe file type"):
        load_probe_set(_write(tmp_path, "p.txt", HEADER))
