"""Write the docs' quoted outputs from a store of the reference, so that every user can reproduce them.

    python docs/render_outputs.py --db STORE            # docs/findings.md and every output block of docs/questions.md
    python docs/render_outputs.py --db STORE --check    # exit 1 (and say which) when a quoted output differs

STORE is the README's first command's store with the analyses docs/questions.md adds (τ = 0.05, the paraphrases,
seeds 1 and 2: `python benchmarks/seeds.py`). A command without `--analysis` reads the first command's analysis
(`--analysis`, default the reference pipeline's), as it would on a store holding only that one.

An output block (```) of questions.md is the output of the read-only commands (`trajectory query`, `trajectory
routes`) in the indented block just above it, in order, one segment each (segments are
separated by a blank line); a segment that the doc cuts short ends in `...` after as many rows as it keeps.
Other commands there (`ingest`, `dashboard`) are shown, never run.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).parent
READ_ONLY = ("query", "routes")


@dataclass
class Block:
    start: int  # the line index of the opening ```
    end: int  # of the closing ```
    commands: list[list[str]]  # argv after "trajectory", read-only ones only
    segments: list[list[str]]  # the block's lines, split at blank lines


def shown_commands(lines: list[str]) -> list[list[str]]:
    """The commands of an indented block: a line at 4 spaces starts one, deeper lines continue it."""
    joined: list[str] = []
    for line in lines:
        if line.startswith("    ") and not line.startswith("     "):
            joined.append(line.strip())
        elif joined:
            joined[-1] += " " + line.strip()
    commands = []
    for text in joined:
        argv = shlex.split(text, comments=True)
        if len(argv) >= 2 and argv[0] == "trajectory" and argv[1] in READ_ONLY:
            commands.append(argv[1:])
    return commands


def output_blocks(text: str) -> list[Block]:
    lines = text.splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        if lines[i] == "```":
            end = lines.index("```", i + 1)
            above = i - 1
            while above >= 0 and not lines[above].strip():
                above -= 1
            first = above
            while first >= 0 and (lines[first].startswith("    ") or not lines[first].strip()):
                first -= 1
            commands = shown_commands(lines[first + 1 : above + 1])
            segments: list[list[str]] = [[]]
            for line in lines[i + 1 : end]:
                if line.strip():
                    segments[-1].append(line)
                else:
                    segments.append([])
            if commands:
                blocks.append(Block(i, end, commands, segments))
            i = end + 1
        else:
            i += 1
    return blocks


DEFAULT_ANALYSIS = "olmo-tiny-facts-v3/facts_160/tau=0.01/theta=0.1"  # the README's first command's


def cli_args(command: list[str], db: Path, analysis: str | None = None) -> list[str]:
    """The arguments of ``trajectory`` that write a quoted command's output: CSV, on ``db``, reading ``analysis``
    where the command names none."""
    args = ["-q", command[0], "--db", str(Path(db).resolve()), *command[1:]]
    if analysis and "--analysis" not in command and "-a" not in command:
        args += ["--analysis", analysis]
    return args + (["--format", "csv"] if command[0] == "query" else [])


def run(command: list[str], db: Path, analysis: str | None = None) -> list[str]:
    """A quoted command's output lines (blank lines dropped), run as a user would, in a scratch folder."""
    with tempfile.TemporaryDirectory() as folder:  # where a command's own files go (routes --graphml)
        done = subprocess.run([sys.executable, "-m", "trajectory", *cli_args(command, db, analysis)], capture_output=True, text=True, cwd=folder)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)}: exit {done.returncode}: {done.stderr.strip()}")
    return [line for line in done.stdout.splitlines() if line.strip()]


def rendered(segment: list[str], output: list[str]) -> list[str]:
    """The output as the doc quotes it: cut where the doc's segment is cut."""
    if segment and segment[-1] == "...":
        kept = len(segment) - 1
        return output[:kept] + (["..."] if len(output) > kept else [])
    return output


def render(path: Path, db: Path, analysis: str | None = DEFAULT_ANALYSIS) -> tuple[str, list[str]]:
    """The doc with every output block rewritten from ``db``, and the commands whose quoted output changed."""
    text = path.read_text()
    lines = text.splitlines()
    changed = []
    for block in reversed(output_blocks(text)):
        if len(block.commands) != len(block.segments):
            raise SystemExit(f"{path.name}:{block.start + 1}: {len(block.commands)} commands above, {len(block.segments)} outputs")
        new: list[str] = []
        for command, segment in zip(block.commands, block.segments):
            output = rendered(segment, run(command, db, analysis))
            if output != segment:
                changed.append(f"{path.name}:{block.start + 1}: trajectory {' '.join(command)}")
            new += ([""] if new else []) + output
        lines[block.start + 1 : block.end] = new
    return "\n".join(lines) + "\n", changed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--analysis", default=DEFAULT_ANALYSIS, help="what a command without --analysis reads")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when an output differs")
    args = parser.parse_args()
    findings = subprocess.run(
        [sys.executable, "-m", "trajectory", "-q", "findings", "--db", str(args.db), "--analysis", args.analysis],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    differs = []
    if findings != (DOCS / "findings.md").read_text():
        differs.append("findings.md: trajectory findings")
    text, changed = render(DOCS / "questions.md", args.db, args.analysis)
    differs += changed
    if args.check:
        print("\n".join(differs) or "every quoted output is what the store gives")
        raise SystemExit(1 if differs else 0)
    (DOCS / "findings.md").write_text(findings)
    (DOCS / "questions.md").write_text(text)
    print("\n".join(differs) or "nothing changed")


if __name__ == "__main__":
    main()
