"""Submission bundles: a fresh one validates; each validation rule rejects a bundle broken in exactly its way."""
import json
import struct
import zipfile

import pytest

from helpers.bundles import members_of, repack
from helpers.resultgen import write_results
from s3prl_crosscorpus.commands import submit, validate
from s3prl_crosscorpus.submission.bundle import BundleError, build_bundle
from s3prl_crosscorpus.submission.format import BUNDLE_INDEX, SPEAKERS_TXT, SUMMARY_MD
from s3prl_crosscorpus.submission.validate import validate_bundle

CELL = "HuBERT-Linear/matched/iemocap"


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory, utterances):
    out = tmp_path_factory.mktemp("bundle_results")
    write_results(out, utterances)  # ComParE-SVM and HuBERT-Linear, matched and extended, 3 corpora, 5 folds
    return out


@pytest.fixture(scope="module")
def good(results_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("bundle") / "submission.zip"
    build_bundle(results_dir, path, plots=False)
    return path


def edit_lines(members, name, change):
    """Apply ``change(list of lines)`` to a text member."""
    lines = members[name].decode().splitlines()
    change(lines)
    members[name] = ("\n".join(lines) + "\n").encode()


def edit_json(members, name, change):
    value = json.loads(members[name])
    change(value)
    members[name] = json.dumps(value, indent=2).encode()


def problems_of(path, **kwargs):
    found = validate_bundle(path, **kwargs)
    assert not found.ok
    return found.problems


def test_a_fresh_bundle_validates_and_holds_the_superb_files(good, results_dir, utterances, data_dir, capsys):
    found = validate_bundle(good, data_dir=data_dir)
    assert found.problems == [] and found.ok
    members = members_of(good)
    meta = json.loads(members[BUNDLE_INDEX])
    assert meta["fold_file_sha256"] == json.loads(members[f"{CELL}/fold1.json"])["fold_file_sha256"]
    assert len(meta["runs"]) == 2 * 2 * 3 * 5 and {r["seed"] for r in meta["runs"]} == {0}
    assert set(meta["files"]) == set(members) - {BUNDLE_INDEX}
    label = {u.id: u.label for u in utterances}
    truth = members[f"{CELL}/test_fold2_truth.txt"].decode().split("\n")
    assert truth[-1] == "" and all(label[utt] == lab for utt, lab in (line.split(" ") for line in truth[:-1]))
    assert (results_dir / CELL / "fold2.json").read_bytes() == members[f"{CELL}/fold2.json"]
    assert "UAR (%)" in members[SUMMARY_MD].decode() and "macro-F1 (%)" in members[SUMMARY_MD].decode()
    assert validate.main([str(good)]) == 0
    assert "OK: 2 system(s), 12 cell(s) x 5 folds" in capsys.readouterr().out


def test_submit_command_packs_plots_and_validates(results_dir, tmp_path, capsys):
    out = tmp_path / "with_plots.zip"
    assert submit.main([str(results_dir), "-o", str(out)]) == 0
    assert "validate: OK" in capsys.readouterr().out
    names = set(members_of(out))
    assert "plots/uar_by_condition.png" in names and f"plots/confusion_{CELL.replace('/', '_')}.png" in names
    assert [p.name for p in tmp_path.iterdir()] == ["with_plots.zip"]  # no temporary file left behind


def test_submit_refuses_incomplete_results(results_dir, tmp_path, capsys):
    import shutil

    partial = tmp_path / "results"
    shutil.copytree(results_dir, partial)
    (partial / CELL / "fold4.json").unlink()
    with pytest.raises(BundleError, match="HuBERT-Linear matched iemocap misses fold\\(s\\) 4"):
        build_bundle(partial, tmp_path / "x.zip", plots=False)
    assert submit.main([str(partial), "-o", str(tmp_path / "x.zip"), "--no-plots"]) == 2
    assert "misses fold(s) 4" in capsys.readouterr().err and not (tmp_path / "x.zip").exists()


# --- one test per rule ---------------------------------------------------------------------------------------

def test_not_a_zip_is_rejected(tmp_path, capsys):
    path = tmp_path / "fake.zip"
    path.write_text("hello")
    assert problems_of(path) == [f"{path}: not a readable zip file (File is not a zip file)"]
    assert validate.main([str(path)]) == 1
    assert "REJECTED" in capsys.readouterr().out


def test_truncated_zip_is_rejected(good, tmp_path):
    path = tmp_path / "cut.zip"
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (problem,) = problems_of(path)
    assert "not a readable zip file" in problem


def test_corrupted_member_is_rejected(good, tmp_path):
    name = f"{CELL}/test_fold1_predict.txt"
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo(name)
    data = bytearray(good.read_bytes())
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26: info.header_offset + 30])
    data[info.header_offset + 30 + name_len + extra_len + info.compress_size // 2] ^= 0xFF  # inside its data
    path = tmp_path / "flipped.zip"
    path.write_bytes(bytes(data))
    (problem,) = problems_of(path)
    assert f"member {name} is damaged or unreadable" in problem


def test_zip_without_bundle_json_is_rejected(good, tmp_path):
    path = tmp_path / "bare.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members_of(good).items():
            if name != BUNDLE_INDEX:
                zf.writestr(name, data)
    (problem,) = problems_of(path)
    assert "no bundle.json" in problem


def test_unknown_format_version_is_rejected(good, tmp_path):
    path = repack(good, tmp_path, lambda m, meta: meta.update(format_version=99))
    (problem,) = problems_of(path)
    assert "format_version 99 is not known" in problem


def test_malformed_bundle_json_is_rejected(good, tmp_path):
    path = repack(good, tmp_path, lambda m, meta: meta.pop("runs"))
    assert problems_of(path) == [f"{path}:{BUNDLE_INDEX}: field 'runs' is missing or not a list"]


def test_file_edited_without_updating_its_hash_is_rejected(good, tmp_path):
    name = f"{CELL}/test_fold1_predict.txt"
    path = repack(good, tmp_path, lambda m, meta: m.update({name: m[name] + b"\n"}), rehash=False)
    assert problems_of(path)[0].startswith(f"{name}: content changed after packing")


def test_unlisted_extra_file_is_rejected(good, tmp_path):
    path = repack(good, tmp_path, lambda m, meta: m.update({"extra/notes.txt": b"hi"}), rehash=False)
    assert problems_of(path) == [f"extra/notes.txt: in the zip but not listed in {BUNDLE_INDEX} (added after packing?)"]


def test_listed_file_missing_is_rejected(good, tmp_path):
    path = repack(good, tmp_path, lambda m, meta: m.pop(SUMMARY_MD), rehash=False)
    assert f"{SUMMARY_MD}: listed in {BUNDLE_INDEX} but missing from the zip" in problems_of(path)


def test_missing_fold_is_rejected(good, tmp_path):
    def drop_fold3(members, meta):
        for kind in ("fold3.json", "test_fold3_predict.txt", "test_fold3_truth.txt"):
            members.pop(f"{CELL}/{kind}")
    assert problems_of(repack(good, tmp_path, drop_fold3)) == [f"{CELL}: fold 3 is missing"]


def test_fold_without_its_predict_file_is_rejected(good, tmp_path):
    path = repack(good, tmp_path, lambda m, meta: m.pop(f"{CELL}/test_fold2_predict.txt"))
    assert problems_of(path) == [f"{CELL}: fold 2 lacks its predict file(s)"]


def test_utterance_predicted_twice_is_rejected(good, tmp_path):
    name = f"{CELL}/test_fold1_predict.txt"
    path = repack(good, tmp_path, lambda m, meta: edit_lines(m, name, lambda lines: lines.append(lines[0])))
    utt = members_of(good)[name].decode().split()[0]
    assert problems_of(path) == [f"{name}: utterance(s) listed more than once: {utt}"]


def test_test_utterance_not_predicted_is_rejected(good, tmp_path):
    name = f"{CELL}/test_fold1_predict.txt"
    utt = members_of(good)[name].decode().split()[0]
    path = repack(good, tmp_path, lambda m, meta: edit_lines(m, name, lambda lines: lines.pop(0)))
    problems = problems_of(path)
    assert f"{name}: ids differ from {CELL}/test_fold1_truth.txt: not predicted: {utt}" in problems
    assert any("disagree with" in p and utt in p for p in problems)


def test_malformed_line_is_rejected(good, tmp_path):
    name = f"{CELL}/test_fold1_truth.txt"
    path = repack(good, tmp_path, lambda m, meta: edit_lines(m, name, lambda lines: lines.insert(2, "lonely")))
    assert f"{name}:3: expected '<utt_id> <label>', got 'lonely'" in problems_of(path)


def test_label_outside_the_label_set_is_rejected(good, tmp_path):
    name = f"{CELL}/test_fold1_predict.txt"

    def bored(lines):
        lines[0] = lines[0].split()[0] + " bor"
    problems = problems_of(repack(good, tmp_path, lambda m, meta: edit_lines(m, name, bored)))
    assert f"{name}: label(s) bor are not in the label set neu, hap, ang, sad (1 line(s))" in problems


def test_edited_metric_is_rejected(good, tmp_path):
    name = f"{CELL}/fold2.json"

    def inflate(result):
        result["metrics"]["uar"] = min(1.0, result["metrics"]["uar"] + 0.05)
    problems = problems_of(repack(good, tmp_path, lambda m, meta: edit_json(m, name, inflate)))
    assert len(problems) == 1 and problems[0].startswith(f"{name}: metrics do not match the predictions: uar")


@pytest.mark.parametrize("metric", ["wa", "macro_f1", "per_class_recall", "confusion_matrix"])
def test_every_reported_metric_is_recomputed(good, tmp_path, metric):
    """Not only UAR: an edit to WA, macro-F1, one class's recall or the confusion matrix is caught."""
    name = f"{CELL}/fold3.json"

    def edit(result):
        metrics = result["metrics"]
        if metric == "per_class_recall":
            metrics[metric]["ang"] = 1.0 - metrics[metric]["ang"] if metrics[metric]["ang"] != 0.5 else 0.25
        elif metric == "confusion_matrix":
            metrics[metric][0] = metrics[metric][0][1:] + metrics[metric][0][:1]  # same row total, moved counts
        else:
            metrics[metric] = metrics[metric] - 0.01 if metrics[metric] > 0.5 else metrics[metric] + 0.01
    problems = problems_of(repack(good, tmp_path, lambda m, meta: edit_json(m, name, edit)))
    expected = {"wa": ": wa ", "macro_f1": ": macro_f1 ", "per_class_recall": "recall of ang differs",
                "confusion_matrix": "confusion matrix differs"}[metric]
    assert len(problems) == 1 and problems[0].startswith(f"{name}: metrics do not match the predictions")
    assert expected in problems[0]


def test_edited_prediction_with_matching_metrics_elsewhere_is_caught_by_the_result_file(good, tmp_path):
    name = f"{CELL}/test_fold1_predict.txt"

    def flip(lines):
        utt, lab = lines[0].split()
        lines[0] = f"{utt} {'hap' if lab != 'hap' else 'sad'}"
    problems = problems_of(repack(good, tmp_path, lambda m, meta: edit_lines(m, name, flip)))
    assert any(p.startswith(f"{name}, {CELL}/test_fold1_truth.txt: disagree with {CELL}/fold1.json") for p in problems)


def test_edited_summary_is_rejected(good, tmp_path):
    def inflate(members, meta):
        cell = next(c for c in meta["summary"]["cells"] if c["system"] == "ComParE-SVM")
        cell["metrics"]["uar"]["mean"] += 3.0
    problems = problems_of(repack(good, tmp_path, inflate))
    assert len(problems) == 1
    assert "summary of ComParE-SVM/matched/emodb does not match the predictions: uar" in problems[0]


def test_summary_cell_lacking_its_names_is_reported_not_a_crash(good, tmp_path):
    path = repack(good, tmp_path, lambda m, meta: meta["summary"]["cells"].append({"condition": "matched"}))
    assert "None/matched/None: in the summary but the zip holds none of its folds" in problems_of(path)


def test_edited_summary_md_is_rejected(good, tmp_path):
    edit = lambda m, meta: m.update({SUMMARY_MD: m[SUMMARY_MD].replace(b"|", b"!", 1)})
    assert problems_of(repack(good, tmp_path, edit)) == [f"{SUMMARY_MD}: does not show the summary table of {BUNDLE_INDEX}"]
    figure = lambda m, meta: m.update({SUMMARY_MD: m[SUMMARY_MD].replace(b" \xc2\xb1 ", b" \xc2\xb1 1", 1)})
    assert problems_of(repack(good, tmp_path, figure)) == [
        f"{SUMMARY_MD}: does not show the summary table of {BUNDLE_INDEX}"]


def test_summary_md_worded_by_another_package_version_is_accepted(good, tmp_path):
    """The prose notes describe the methods and change wording between versions (e.g. the "Pooled UAR:" note of
    bundles packed before test-only intervals); the table rows and ! lines are what must match bundle.json."""
    def reword(members, meta):
        text = members[SUMMARY_MD].decode("utf-8")
        assert "Each cell: mean" in text
        members[SUMMARY_MD] = text.replace("Each cell: mean", "Each cell shows the mean").encode("utf-8")
    found = validate_bundle(repack(good, tmp_path, reword))
    assert found.ok, found.problems


def test_edited_run_record_is_rejected(good, tmp_path):
    path = repack(good, tmp_path, lambda m, meta: meta["runs"][0].update(seed=7))
    (problem,) = problems_of(path)
    assert "runs (seeds, hyperparameters, configs) do not match the result files" in problem


def test_mixed_fold_file_hashes_are_rejected(good, tmp_path):
    name = f"{CELL}/fold4.json"
    path = repack(good, tmp_path, lambda m, meta: edit_json(m, name, lambda r: r.update(fold_file_sha256="a" * 64)))
    (problem,) = problems_of(path)
    assert "different fold files" in problem and name in problem


def test_result_file_at_the_wrong_place_is_rejected(good, tmp_path):
    name = f"{CELL}/fold4.json"
    path = repack(good, tmp_path, lambda m, meta: edit_json(m, name, lambda r: r.update(fold=5)))
    assert f"{name}: the file says {CELL} fold 5 but lies at {CELL} fold 4" in problems_of(path)


def test_result_file_breaking_the_schema_is_rejected(good, tmp_path):
    name = f"{CELL}/fold4.json"
    path = repack(good, tmp_path, lambda m, meta: edit_json(m, name, lambda r: r.pop("seed")))
    assert f"{name}: (top level): 'seed' is a required property" in problems_of(path)


def test_utterance_tested_in_two_folds_is_rejected(good, tmp_path):
    def leak(members, meta):
        for kind in ("predict", "truth"):
            line = members[f"{CELL}/test_fold2_{kind}.txt"].decode().splitlines()[0]
            edit_lines(members, f"{CELL}/test_fold1_{kind}.txt", lambda lines: lines.append(line))
    problems = problems_of(repack(good, tmp_path, leak))
    assert any(p.startswith(f"{CELL}: 1 utterance(s) are tested in more than one fold") and "folds 1, 2" in p
               for p in problems)


def test_systems_tested_on_different_utterances_are_rejected(good, tmp_path):
    def drop_first(members, meta):
        for kind in ("predict", "truth"):
            edit_lines(members, f"{CELL}/test_fold1_{kind}.txt", lambda lines: lines.pop(0))
    problems = problems_of(repack(good, tmp_path, drop_first))
    assert any(p.startswith("iemocap fold 1: HuBERT-Linear/matched tested on other utterances") for p in problems)


def test_test_set_checked_against_the_manifest(good, tmp_path, data_dir):
    def drop_everywhere(members, meta):
        for name in [n for n in members if n.endswith("/iemocap/test_fold1_truth.txt")
                     or n.endswith("/iemocap/test_fold1_predict.txt")]:
            edit_lines(members, name, lambda lines: lines.pop(0))
    path = repack(good, tmp_path, drop_everywhere)
    problems = problems_of(path, data_dir=data_dir)
    assert any(p.startswith(f"{CELL}/test_fold1_truth.txt: not the fold-1 test set of iemocap") for p in problems)
    assert not any("tested on other utterances" in p for p in problems)  # consistent across systems, still wrong


def test_a_test_utterance_excluded_by_the_run_is_not_missing_from_the_test_set(good, tmp_path, data_dir, utterances):
    """A file the run could not read is listed in each result's ``excluded`` (by path): the manifest check
    accepts its absence there, and names the id when the same absence is not explained."""
    by_id = {u.id: u for u in utterances}
    members = members_of(good)
    dropped = members[f"{CELL}/test_fold1_truth.txt"].decode().splitlines()[0].split()[0]

    def drop(members, meta, explained):
        for name in [n for n in members if n.endswith("/iemocap/test_fold1_truth.txt")
                     or n.endswith("/iemocap/test_fold1_predict.txt")]:
            edit_lines(members, name, lambda lines: lines.remove(next(l for l in lines if l.split()[0] == dropped)))
        for name in [n for n in members if n.endswith("/iemocap/fold1.json")] if explained else []:
            edit_json(members, name, lambda r: r["excluded"].append({"path": by_id[dropped].path,
                                                                     "reason": "unreadable (test)"}))

    rule = f"{CELL}/test_fold1_truth.txt: not the fold-1 test set of iemocap"
    explained = validate_bundle(repack(good, tmp_path, lambda m, meta: drop(m, meta, True)), data_dir=data_dir)
    assert not any(p.startswith(rule) for p in explained.problems)
    unexplained = problems_of(repack(good, tmp_path, lambda m, meta: drop(m, meta, False)), data_dir=data_dir)
    assert any(p.startswith(rule) and f"(missing: {dropped}; not in the test set: none)" in p for p in unexplained)


def test_speakers_file_checked_against_the_manifest(good, tmp_path, data_dir):
    """A speakers.txt that gives one utterance another speaker than the manifest is named with --data."""
    first = members_of(good)[SPEAKERS_TXT].decode().splitlines()[0].split()[0]

    def move(members, meta):
        edit_lines(members, SPEAKERS_TXT, lambda lines: lines.__setitem__(0, f"{first} 99"))

    problems = problems_of(repack(good, tmp_path, move), data_dir=data_dir)
    assert any(p.startswith(f"{SPEAKERS_TXT}: 1 utterance(s) listed with another speaker than the manifest")
               and p.endswith(first) for p in problems), problems


def test_a_zip_bomb_is_rejected_before_any_member_is_read(good, tmp_path, monkeypatch):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(BUNDLE_INDEX, json.dumps({"format_version": 1}))
        zf.writestr("results/zeros.json", bytes(8 << 20))  # 8 MiB of zeros deflate to ~8 KiB
    monkeypatch.setattr(zipfile.ZipFile, "read", lambda *a, **k: pytest.fail("a member was decompressed"))
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}: member results/zeros.json expands ") and "limit 100x" in problem


def test_a_member_declared_larger_than_the_limit_is_not_read(good, monkeypatch):
    from s3prl_crosscorpus.submission import validate as rules

    monkeypatch.setattr(rules, "MAX_MEMBER_BYTES", 1000)
    problems = problems_of(good)
    assert problems and all("would expand to" in p and "limit 1000" in p for p in problems)


# --- statistics (format version 2) --------------------------------------------------------------------------------

def test_a_fresh_bundle_carries_speakers_and_statistics_that_validate_recomputes(good, utterances):
    members = members_of(good)
    meta = json.loads(members[BUNDLE_INDEX])
    assert meta["format_version"] == 2
    stats = meta["summary"]["statistics"]
    assert stats["method"]["resamples"] == 10_000 and stats["family_size"] == 6  # 2 systems x 3 corpora
    assert all(c["available"] for c in stats["cells"] + stats["comparisons"])
    speaker = {u.id: u.speaker for u in utterances}
    lines = [line.split() for line in members[SPEAKERS_TXT].decode().splitlines()]
    assert lines and all(speaker[utt] == name for utt, name in lines)
    assert "speaker-bootstrap interval" in members[SUMMARY_MD].decode()
    assert "statistics recomputed from the predictions match" in validate_bundle(good).describe()


def test_edited_statistic_is_rejected(good, tmp_path):
    def better_p(members, meta):
        meta["summary"]["statistics"]["comparisons"][0]["p"] = 0.0001
    problems = problems_of(repack(good, tmp_path, better_p))
    assert f"{BUNDLE_INDEX}: summary statistics: comparison ComParE-SVM/extended − ComParE-SVM/matched on emodb " \
           "does not match the predictions (p)" in problems
    assert problems == [f"{SUMMARY_MD}: does not show the summary table of {BUNDLE_INDEX}", problems[1]]


@pytest.mark.parametrize("figure,edit", [
    ("per_seed", lambda cell: cell["per_seed"].update({k: v + 1.0 for k, v in cell["per_seed"].items()})),  # in a dict
    ("ci", lambda cell: cell.__setitem__("ci", None)),  # a number made None
    ("available", lambda cell: cell.__setitem__("available", False)),  # a flag
])
def test_an_edited_figure_inside_a_cells_statistics_is_rejected(good, tmp_path, figure, edit):
    def tamper(members, meta):
        edit(meta["summary"]["statistics"]["cells"][0])
    cell = json.loads(members_of(good)[BUNDLE_INDEX])["summary"]["statistics"]["cells"][0]
    key = "/".join((cell["system"], cell["condition"], cell["test_corpus"]))
    problems = problems_of(repack(good, tmp_path, tamper))
    assert any(p.startswith(f"{BUNDLE_INDEX}: summary statistics: {key} does not match the predictions (")
               and figure in p for p in problems), problems


def test_a_result_whose_test_size_disagrees_with_its_predictions_is_rejected(good, tmp_path):
    name = f"{CELL}/fold1.json"
    n = len(json.loads(members_of(good)[name])["predictions"])
    problems = problems_of(repack(good, tmp_path, lambda m, meta: edit_json(
        m, name, lambda r: r["sizes"].update(test=n + 1))))
    assert f"{name}: sizes.test is {n + 1} but it holds {n} predictions" in problems


def test_edited_statistics_seed_is_rejected(good, tmp_path):
    path = repack(good, tmp_path, lambda m, meta: meta["summary"]["statistics"]["method"].update(seed=5))
    assert any("does not match the predictions (ci" in p for p in problems_of(path))


def test_speakers_file_disagreeing_with_the_results_is_rejected(good, tmp_path):
    def move_speaker(members, meta):
        edit_lines(members, SPEAKERS_TXT, lambda lines: lines.__setitem__(0, lines[0].split()[0] + " somebody"))
    problems = problems_of(repack(good, tmp_path, move_speaker))
    utt = members_of(good)[SPEAKERS_TXT].decode().split()[0]
    assert f"{SPEAKERS_TXT}: 1 utterance(s) listed with another speaker than the speaker its result file records: " \
           f"{utt}" in problems
    assert any("summary statistics" in p and "does not match the predictions" in p for p in problems)


def test_a_version_1_bundle_without_statistics_still_validates(good, tmp_path):
    from s3prl_crosscorpus.submission.format import summary_markdown

    def version_1(members, meta):
        meta["format_version"] = 1
        del meta["summary"]["statistics"]
        members.pop(SPEAKERS_TXT)
        members[SUMMARY_MD] = summary_markdown(meta["summary"]).encode()
    found = validate_bundle(repack(good, tmp_path, version_1))
    assert found.ok, found.problems
    assert "the metrics recomputed" in found.describe()
    missing = repack(good, tmp_path, lambda m, meta: meta["summary"].pop("statistics"))
    assert any("statistics: missing or malformed" in p for p in problems_of(missing))


def test_a_manifest_without_a_corpus_gives_one_line_not_one_per_fold(good, data_dir, tmp_path):
    partial = tmp_path / "no_iemocap"
    partial.mkdir()
    lines = (data_dir / "manifest.jsonl").read_text().splitlines()
    (partial / "manifest.jsonl").write_text("\n".join(l for l in lines if '"corpus": "iemocap"' not in l) + "\n")
    problems = problems_of(good, data_dir=partial)
    about = [p for p in problems if "iemocap" in p]
    assert len(about) == 1 and "holds no iemocap utterances" in about[0]
