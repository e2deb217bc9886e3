"""The README's corpus table says what the registry holds: names, languages, speakers, published counts."""
import re
from pathlib import Path

from s3prl_crosscorpus.core.corpora.registry import REGISTRY, REGISTRY_CORPORA
from s3prl_crosscorpus.core.folds import FOLDS
from s3prl_crosscorpus.core.labels import LABELS

README = Path(__file__).resolve().parents[1] / "README.md"
ROW = re.compile(r"^\| (?P<display>.+?) \(`(?P<name>\w+)`(?P<test_only>, test-only)?\) \| (?P<language>\w+) \| "
                 r"(?P<speakers>.+?) \| (?P<counts>.+?) \| .+ \|$")


def readme_rows() -> dict:
    return {m["name"]: m for line in README.read_text(encoding="utf-8").splitlines() if (m := ROW.match(line))}


def test_every_registry_corpus_has_one_readme_row_with_its_facts():
    rows = readme_rows()
    assert list(rows) == list(REGISTRY_CORPORA)
    for name, row in rows.items():
        info = REGISTRY[name]
        assert (row["display"], row["language"]) == (info.display, info.language)
        assert bool(row["test_only"]) == info.test_only(len(FOLDS))
        if info.speakers is None:
            assert row["speakers"] == "grows per release" and row["counts"] == "release-dependent"
            continue
        male, female = info.genders
        assert row["speakers"] == f"{info.speakers} ({male}/{female})"
        assert row["counts"] == " / ".join(str(info.counts[label]) for label in LABELS)
