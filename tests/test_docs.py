"""The documentation: the README is a front page whose first screen holds the two quick-start commands
(CI runs its test command), its relative links and anchors resolve, and the mkdocs site under docs/
builds with `mkdocs build --strict` (every link and anchor checked, every page in the nav)."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DEMO = "bash recipes/install.sh && python3 -m s3prl_crosscorpus demo --out demo_out"
SUITE = "bash recipes/install.sh && python3 -m pytest -q tests"

#: A Markdown link or image: [text](target) with an optional title; code spans are removed first.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def github_slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation but '-' and '_' dropped, spaces to '-'."""
    text = re.sub(r"`([^`]*)`", r"\1", heading).strip().lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(markdown: Path) -> set:
    """Anchors GitHub gives the headings of a Markdown file (repeats get -1, -2, ...), code blocks skipped."""
    found, seen, fenced = set(), {}, False
    for line in markdown.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            slug = github_slug(line.lstrip("#"))
            found.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
            seen[slug] = seen.get(slug, 0) + 1
    return found


def relative_links(markdown: Path) -> list:
    """Relative link targets of a Markdown file, outside code blocks and code spans."""
    targets, fenced = [], False
    for line in markdown.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            targets += [t for t in LINK.findall(re.sub(r"`[^`]*`", "", line))
                        if not re.match(r"[a-z]+:", t)]
    return targets


def broken_links(markdown: Path) -> list:
    """'target: why' for every relative link of ``markdown`` whose file or anchor does not exist."""
    problems = []
    for target in relative_links(markdown):
        path, _, anchor = target.partition("#")
        file = (markdown.parent / path).resolve() if path else markdown
        if not file.exists():
            problems.append(f"{target}: no file {file}")
        elif anchor and (file.suffix != ".md" or anchor not in anchors(file)):
            problems.append(f"{target}: no heading with anchor #{anchor} in {file.name}")
    return problems


def mkdocs_build(config: Path, site: Path) -> subprocess.CompletedProcess:
    """`mkdocs build --strict` of ``config`` into ``site``."""
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
                          capture_output=True, text=True, timeout=120)


def test_the_readme_first_screen_holds_the_two_quick_start_commands():
    first_screen = README.read_text(encoding="utf-8").splitlines()[:40]
    assert any(line.startswith(DEMO) for line in first_screen)
    assert any(line.startswith(SUITE) for line in first_screen)


def test_ci_runs_exactly_the_readme_test_command():
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[-1] == SUITE


def test_the_readme_is_a_front_page():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 220, f"README.md has {len(lines)} lines: move reference material to docs/"


def test_every_relative_link_and_anchor_of_the_readme_resolves():
    assert relative_links(README), "the README links to no docs page"
    assert broken_links(README) == []


def test_the_link_check_finds_a_missing_file_and_a_missing_anchor(tmp_path):
    (tmp_path / "a.md").write_text("# Title A\n\n## Some `code` section, here\n")
    page = tmp_path / "b.md"
    page.write_text("[ok](a.md#some-code-section-here) [ok](#b) [x](a.md#nope) [y](c.md) `[z](d.md)`\n"
                    "```\n[w](e.md)\n```\n# B\n")
    assert broken_links(page) == [f"a.md#nope: no heading with anchor #nope in a.md",
                                  f"c.md: no file {tmp_path / 'c.md'}"]


def test_mkdocs_build_strict_passes(tmp_path):
    done = mkdocs_build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    pages = {p.stem for p in (ROOT / "docs").glob("*.md")}
    assert {"index", "study", "corpora", "svm", "dnn", "cache", "statistics", "domain-shift", "reliability",
            "benchmarks", "development"} <= pages
    for page in pages - {"index"}:
        assert (tmp_path / "site" / page / "index.html").is_file(), page


@pytest.mark.parametrize("broken", ["[x](svm.md#no-such-heading)", "[x](no-such-page.md)", "[x](../README.md)"])
def test_mkdocs_build_strict_fails_on_a_broken_link(tmp_path, broken):
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    with open(tmp_path / "docs" / "index.md", "a", encoding="utf-8") as index:
        index.write(f"\n{broken}\n")
    done = mkdocs_build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0 and broken[4:-1] in done.stderr


def test_mkdocs_build_strict_fails_on_a_page_missing_from_the_nav(tmp_path):
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    (tmp_path / "docs" / "forgotten.md").write_text("# Forgotten\n")
    done = mkdocs_build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0 and "forgotten.md" in done.stderr
