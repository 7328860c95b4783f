"""One look for every figure: fixed role colours (Okabe & Ito's colour-blind-safe palette), fonts."""

from __future__ import annotations

from trajectory.roles.scores import ROLES

# Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision deficiencies.
ROLE_COLOURS = {
    "general": "#0072B2",  # blue
    "entity": "#E69F00",  # orange
    "relation": "#009E73",  # bluish green
    "fact": "#CC79A7",  # reddish purple
    "deactivated": "#BBBBBB",  # grey: the absence of a role
}
assert tuple(ROLE_COLOURS) == ROLES
# Relation types on the accuracy figure: colours no role uses, plus a dash for the second type.
RELATION_TYPE_STYLE = {
    "location": {"color": "#000000", "dash": "solid"},
    "name": {"color": "#D55E00", "dash": "dash"},  # vermillion
    "other": {"color": "#56B4E9", "dash": "dot"},  # sky blue
}
PROBABILITY_SCALE = "Cividis"  # perceptually uniform and colour-blind safe
KIND_TITLES = {"head": "attention heads", "ffn": "FFNs"}
KIND_SINGULAR = {"head": "head", "ffn": "FFN"}
ALL_RELATIONS = "*"

LAYOUT = {
    "template": "plotly_white",
    "font": {"family": "Helvetica, Arial, sans-serif", "size": 13},
    "margin": {"l": 70, "r": 30, "t": 120, "b": 60},
    "hoverlabel": {"namelength": -1},
    # The toolbar as a column at the right edge: across the top it covered the ends of long titles (issue #38).
    "modebar": {"orientation": "v"},
}


def relation_label(relation: str) -> str:
    return "all relations" if relation == ALL_RELATIONS else relation.replace("_", " ")


DIVERGING = "RdBu_r"  # one sign convention on every page: red raises the reward R, blue lowers it; white is 0


def p_text(value: float, name: str = "p") -> str:
    """A p-value as the pages write it: never "p = 0" (a p that rounds to nothing is below a thousandth)."""
    return f"{name} < 0.001" if value < 0.001 else f"{name} = {value:.2g}"


def with_alpha(colour: str, alpha: float) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def coloured_role(role: str) -> str:
    """A role name in its colour, for tick labels and annotations (plotly's HTML subset)."""
    return f"<span style='color:{ROLE_COLOURS[role]}'><b>{role}</b></span>"
