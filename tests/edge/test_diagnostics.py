"""Picture diagnostics (edge/video/diagnostics.py) on a generated, labelled clip set, and the
Diagnoser's timing: frozen window, debounce, stale, no signal."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from edge.video.diagnostics import Diagnoser, DiagnosticThresholds, analyse
from protocol.profiles import load_profiles
from tests.edge.test_diagnostics_support import FRAME_STEP_S, LABELS, labelled_set, make_clip

TH = DiagnosticThresholds.from_profile(load_profiles()["camera"].thresholds)


def diagnose(frames: list[np.ndarray]) -> str:
    d = Diagnoser(TH)
    for k, frame in enumerate(frames):
        d.frame(analyse(frame, TH), k * FRAME_STEP_S)
    return d.reported


def test_labelled_set_confusion_matrix() -> None:
    """20 clips per class (normal scenes with motion and noise; black, dark, frozen,
    occluded, blurred, colour cast): prints the confusion matrix; at least 95 % right and
    no normal clip flagged."""
    confusion: collections.Counter[tuple[str, str]] = collections.Counter()
    misses = []
    for clip in labelled_set(per_label=20):
        got = diagnose(clip.frames)
        confusion[(clip.label, got)] += 1
        if got != clip.label:
            misses.append(f"{clip.label} -> {got}: {clip.note}")
    columns = [*LABELS, *sorted({g for _, g in confusion} - set(LABELS))]
    print("\nconfusion matrix (rows: truth, columns: diagnosis)")
    print(" " * 12 + "".join(f"{c[:10]:>11}" for c in columns))
    for truth in LABELS:
        print(f"{truth:12}" + "".join(f"{confusion[(truth, c)]:11d}" for c in columns))
    total = sum(confusion.values())
    right = sum(confusion[(label, label)] for label in LABELS)
    print(f"correct: {right}/{total} = {right / total:.1%}")
    for miss in misses:
        print("  miss:", miss)
    assert right / total >= 0.95
    assert confusion[("ok", "ok")] == 20, "a normal scene was flagged"


def test_full_hd_frames_get_the_same_diagnoses() -> None:
    """The analysis downscales first: 1920×1080 clips are diagnosed like 640×360 ones."""
    for label in ("ok", "black", "occluded", "blurred", "colour_cast"):
        clip = make_clip(label, 3, 1920, 1080)
        assert diagnose(clip.frames) == label, clip.note


def test_one_frame_glitch_is_not_reported() -> None:
    """A single black frame between normal ones (a light switched, a decoder hiccup) does
    not change the reported diagnosis: the debounce needs it to persist."""
    ok = make_clip("ok", 1).frames
    black = make_clip("black", 1).frames[0]
    d = Diagnoser(TH)
    frames = [*ok[:4], black, *ok[4:8]]
    verdicts = [d.frame(analyse(f, TH), k * FRAME_STEP_S) for k, f in enumerate(frames)]
    # The only change is the first picture's: starting -> ok, once debounced.
    assert [v.diagnosis for v in verdicts if v.changed] == ["ok"]
    assert d.reported == "ok"


def test_frozen_needs_the_whole_window() -> None:
    """Identical frames: still ok before frozen_after_s (+ debounce), frozen after, and the
    change is reported once; a moving picture brings ok back."""
    still = make_clip("ok", 2).frames[0]
    d = Diagnoser(TH)
    reports = [d.frame(analyse(still, TH), k * 0.5) for k in range(12)]
    first = next(k for k, r in enumerate(reports) if r.changed and r.diagnosis == "frozen")
    assert first * 0.5 >= TH.frozen_after_s + TH.debounce_s - 0.5
    assert d.reported == "frozen"
    assert [r.diagnosis for r in reports if r.changed] == ["ok", "frozen"]
    assert dict(reports[first].info) == {"code": "frozen", "seconds": round(first * 0.5)}
    for k, frame in enumerate(make_clip("ok", 4).frames[:4]):
        d.frame(analyse(frame, TH), 6 + k * 0.5)
    assert d.reported == "ok"


def test_silence_becomes_stale_and_loss_no_signal() -> None:
    """No frame for stale_after_s: stale (with how long); the camera not answering at all:
    no_signal with the reason, once the debounce has passed."""
    d = Diagnoser(TH)
    d.frame(analyse(make_clip("ok", 5).frames[0], TH), 0.0)
    assert not d.tick(TH.stale_after_s - 0.1).changed
    d.tick(TH.stale_after_s)
    v = d.tick(TH.stale_after_s + TH.debounce_s)
    assert v.changed and v.diagnosis == "stale" and "no new frame" in v.detail
    d.lost({"code": "connection_refused"}, 20.0, connected=False)
    v = d.tick(20.0 + TH.debounce_s)
    assert (v.diagnosis, v.detail, v.changed) == ("no_signal", "connection refused", True)
    assert dict(v.info) == {"code": "connection_refused"}


def test_starting_until_the_first_picture_within_the_grace() -> None:
    """A camera that answers but has sent nothing yet is 'starting' (no fault) for
    startup_grace_s, however long the stale window; past the grace it is stale, counted
    from the first look.  A refused connection is no_signal at once, grace or not."""
    th = TH.model_copy(update={"startup_grace_s": 30.0})
    d = Diagnoser(th)
    assert (d.reported, dict(d.reported_info)) == ("starting", {"code": "starting"})
    for now in (0.0, 10.0, 20.0, 29.0, 29.9):
        assert not d.tick(now).changed and d.reported == "starting"
    d.lost({"code": "stream_ended"}, 29.9, connected=True)  # open, nothing read yet
    assert d.reported == "starting"
    d.tick(30.0)
    v = d.tick(30.0 + TH.debounce_s)
    assert v.changed and v.diagnosis == "stale"
    assert dict(v.info) == {"code": "no_frame", "seconds": 31, "cause": "stream_ended"}
    assert v.detail == "no new frame for 31s (stream ended or no frame within the read timeout)"

    refused = Diagnoser(th)
    refused.lost({"code": "connection_refused"}, 0.0, connected=False)
    v = refused.tick(TH.debounce_s)
    assert (v.diagnosis, v.changed) == ("no_signal", True)

    first_frame = Diagnoser(th)
    frame = analyse(make_clip("ok", 6).frames[0], TH)
    first_frame.tick(0.0)
    first_frame.frame(frame, 12.0)
    v = first_frame.frame(analyse(make_clip("ok", 6).frames[1], TH), 12.0 + TH.debounce_s)
    assert (v.diagnosis, v.changed, v.info["code"]) == ("ok", True, "measures")


def test_no_grace_means_stale_after_the_stale_window() -> None:
    """startup_grace_s 0: the old behaviour, silence from the first look is stale after
    stale_after_s."""
    d = Diagnoser(TH.model_copy(update={"startup_grace_s": 0.0}))
    d.tick(0.0)
    d.tick(TH.stale_after_s)
    assert d.tick(TH.stale_after_s + TH.debounce_s).diagnosis == "stale"


def test_empty_and_malformed_frames_are_refused() -> None:
    """A zero-sized or malformed frame is a ValueError (the reader turns it into a device
    state), never a crash inside OpenCV."""
    for bad in (np.zeros((0, 0, 3), np.uint8), np.zeros((4,), np.uint8)):
        with pytest.raises(ValueError):
            analyse(bad, TH)
    assert analyse(np.full((90, 160), 128, np.uint8), TH).diagnosis == "occluded"


def test_profile_thresholds_are_checked() -> None:
    """A typo or an impossible value in the camera profile's thresholds names the key:
    ranges, fractions, infinities, and the orderings the diagnostics rely on."""
    with pytest.raises(ValueError, match=r"thresholds\.sample_fsp"):
        DiagnosticThresholds.from_profile({"sample_fsp": 2})
    with pytest.raises(ValueError, match=r"thresholds\.sample_fps"):
        DiagnosticThresholds.from_profile({"sample_fps": 0})
    for bad, key in (({"occluded_fraction": 1.2}, "occluded_fraction"),
                     ({"frozen_changed_fraction": 1.0}, "frozen_changed_fraction"),
                     ({"debounce_s": -1}, "debounce_s"),
                     ({"stale_after_s": float("inf")}, "stale_after_s"),
                     ({"black_luma": float("nan")}, "black_luma"),
                     ({"dark_luma": 20, "black_luma": 20}, "dark_luma"),
                     ({"occluded_spread": 1, "black_spread": 2}, "occluded_spread")):
        with pytest.raises(ValueError, match=rf"thresholds\.{key}"):
            DiagnosticThresholds.from_profile(bad)
    assert DiagnosticThresholds.from_profile({"dark_luma": 21, "black_luma": 20}).dark_luma == 21
