"""UAR, WA and macro-F1 of s3prl_crosscorpus.core.metrics against hand-computed cases."""
import pytest

from s3prl_crosscorpus.core.metrics import scores, uar


def test_hand_computed_mixed_case():
    y_true = ["neu", "neu", "neu", "neu", "hap", "hap", "ang", "sad"]
    y_pred = ["neu", "neu", "neu", "hap", "hap", "neu", "ang", "ang"]
    s = scores(y_true, y_pred)
    # recalls: neu 3/4, hap 1/2, ang 1/1, sad 0/1
    assert s["uar"] == pytest.approx((0.75 + 0.5 + 1.0 + 0.0) / 4)
    assert s["wa"] == pytest.approx(5 / 8)
    # F1: neu p=3/4 r=3/4; hap p=1/2 r=1/2; ang p=1/2 r=1 -> 2/3; sad 0
    assert s["macro_f1"] == pytest.approx((0.75 + 0.5 + 2 / 3 + 0.0) / 4)
    assert s["per_class_recall"] == pytest.approx({"neu": 0.75, "hap": 0.5, "ang": 1.0, "sad": 0.0})
    assert s["confusion_matrix"] == [[3, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 0]]
    assert s["n"] == 8
    assert uar(y_true, y_pred) == pytest.approx(s["uar"])


def test_majority_guess_has_chance_uar_but_high_wa():
    y_true = ["neu"] * 7 + ["hap", "ang", "sad"]
    s = scores(y_true, ["neu"] * 10)
    assert s["uar"] == pytest.approx(0.25)
    assert s["wa"] == pytest.approx(0.7)
    # F1 of neu: p=0.7, r=1 -> 1.4/1.7; the other three are 0
    assert s["macro_f1"] == pytest.approx((1.4 / 1.7) / 4)


def test_perfect_predictions():
    y = ["neu", "hap", "ang", "sad", "sad"]
    s = scores(y, y)
    assert (s["uar"], s["wa"], s["macro_f1"]) == (1.0, 1.0, 1.0)


def test_classes_absent_from_reference_do_not_count():
    s = scores(["neu", "neu", "hap", "hap"], ["neu", "hap", "hap", "hap"])
    assert s["uar"] == pytest.approx((0.5 + 1.0) / 2)
    assert s["per_class_recall"]["ang"] is None and s["per_class_recall"]["sad"] is None
    # F1 over the present classes: neu p=1 r=1/2 -> 2/3; hap p=2/3 r=1 -> 4/5
    assert s["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="equally long"):
        scores(["neu", "hap"], ["neu"])
    with pytest.raises(ValueError, match="not in the label set"):
        scores(["neu", "fear"], ["neu", "neu"])


def test_macro_f1_averages_over_the_classes_present_in_the_reference():
    """A class only predicted (sad) is not averaged in, as UAR skips it: F1 neu 2/3, hap 1 -> 5/6 (not 5/9)."""
    found = scores(["neu", "neu", "hap", "hap"], ["neu", "sad", "hap", "hap"])
    assert found["macro_f1"] == pytest.approx(5 / 6)
    assert found["uar"] == pytest.approx(0.75) and found["wa"] == pytest.approx(0.75)
