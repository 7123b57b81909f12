"""camera_fault and the progress check of recording_not_running, on a virtual clock
(server/rules/video.py, server/rules/recording.py)."""

from __future__ import annotations

import pytest

from tests.server.test_rules_support import Floor, site_with_rules, t

CAMERA = "camera-interrogation-1"
RECORDER = "recorder-interrogation-1"


def occupied(floor: Floor | None = None) -> Floor:
    """S1 (searched) with officers O1, O2 in interrogation-1; everything born; the camera
    healthy, the recorder recording and growing."""
    floor = (floor or Floor()).in_interview()
    floor.set(CAMERA, diagnosis="ok", online=True)
    floor.set(RECORDER, recording=True, segment="seg-0001.mp4", bytes_written=1_000)
    assert floor.keys() == set()
    return floor


def test_frozen_picture_in_an_occupied_room_is_a_camera_fault_and_clears() -> None:
    """The edge reports diagnosis frozen: camera_fault at once (the edge debounced it), with
    the diagnosis and its detail in both messages; back to ok clears it."""
    floor = occupied()
    floor.at(10).set(CAMERA, diagnosis="frozen", diagnosis_detail="no change for 4s")
    v = floor.evaluate().active[("camera_fault", CAMERA)]
    assert (v.zone, v.severity) == ("interrogation-1", "critical")
    assert "picture frozen (no change for 4s)" in v.message_en and "S1" in v.message_en
    assert "画面冻结" in v.message_zh
    assert v.details["reason"] == "frozen"
    floor.at(20).set(CAMERA, diagnosis="ok", diagnosis_detail="")
    assert floor.keys("camera_fault") == set()


@pytest.mark.parametrize("diagnosis", ["black", "dark", "occluded", "blurred", "stale",
                                       "no_signal"])
def test_every_picture_fault_counts(diagnosis: str) -> None:
    """Each fault diagnosis of the default set raises camera_fault."""
    floor = occupied()
    floor.at(5).set(CAMERA, diagnosis=diagnosis)
    assert floor.keys("camera_fault") == {("camera_fault", CAMERA)}


def test_colour_cast_is_not_a_fault_unless_the_site_says_so() -> None:
    """A colour cast still shows the room: no alarm by default; a site may add it."""
    floor = occupied()
    floor.at(5).set(CAMERA, diagnosis="colour_cast")
    assert floor.keys("camera_fault") == set()
    strict = occupied(Floor(site_with_rules({"camera_fault": {
        "diagnoses": ["colour_cast", "frozen"]}})))
    strict.at(5).set(CAMERA, diagnosis="colour_cast")
    assert strict.keys("camera_fault") == {("camera_fault", CAMERA)}


def test_lost_camera_is_a_fault_with_the_edges_reason() -> None:
    """A camera its node declared lost: camera_fault, message with the lost reason."""
    floor = occupied()
    floor.at(5).lose(CAMERA, "no signal: connection refused")
    v = floor.evaluate().active[("camera_fault", CAMERA)]
    assert v.details["reason"] == "offline"
    assert "connection refused" in v.message_en


def test_empty_room_raises_nothing() -> None:
    """A black picture in a room with nobody in custody is no camera_fault (the device
    itself is fine; the technician's page shows the diagnosis)."""
    floor = Floor()
    floor.birth_everything()
    floor.at(5).set("camera-holding-2", diagnosis="black")
    assert floor.keys("camera_fault") == set()


def test_recording_that_does_not_grow_is_not_running() -> None:
    """recording=true but bytes_written flat: nothing before the 15 s window, then
    recording_not_running (reason not_progressing, since = the last growth), with the
    segment in the message; growth again clears it."""
    floor = occupied()
    floor.at(5).set(RECORDER, bytes_written=2_000)
    ev = floor.at(6).evaluate()
    assert ev.active == {} and ev.next_due == pytest.approx(t(20))
    assert floor.at(19.9).keys("recording_not_running") == set()
    v = floor.at(20.1).evaluate().active[("recording_not_running", RECORDER)]
    assert v.details["reason"] == "not_progressing"
    assert v.since == pytest.approx(t(5))
    assert "seg-0001.mp4 has not grown" in v.message_en and "录像文件" in v.message_zh
    floor.at(25).set(RECORDER, bytes_written=3_000)
    assert floor.keys("recording_not_running") == set()


def test_progress_window_has_a_floor_of_reports_at_high_speed() -> None:
    """At speed 60 the 15 s window would be 0.25 s real, shorter than the recorder's
    reports: the window is at least 2.5 report intervals (5 s heartbeat floored at 1 s)."""
    floor = occupied(Floor(speed=60))
    floor.at(1).set(RECORDER, bytes_written=5_000)
    assert floor.at(3.4).keys("recording_not_running") == set()
    assert floor.at(3.6).keys("recording_not_running") == {("recording_not_running",
                                                            RECORDER)}


def test_recorder_without_byte_count_is_judged_on_recording_only() -> None:
    """A recorder that reports no bytes_written is not judged on progress."""
    floor = Floor().in_interview()
    floor.set(RECORDER, recording=True)
    assert floor.at(3600).keys("recording_not_running") == set()


def _latin_words(text: str, *allowed: str) -> list[str]:
    """English words in a message, leaving out ids and the allowed names."""
    import re

    words = re.findall(r"[A-Za-z][A-Za-z_\-0-9]*", text)
    return [w for w in words if w not in allowed and not w.startswith(("camera-", "S1"))]


def test_chinese_message_renders_the_diagnosis_info_in_chinese() -> None:
    """An edge that sends diagnosis_info (code + parameters): the Chinese message says why
    in Chinese — no English words — and the English one in English."""
    floor = occupied()
    floor.at(10).set(CAMERA, diagnosis="frozen", diagnosis_detail="no change for 12s",
                     diagnosis_info='{"code":"frozen","seconds":12}')
    v = floor.evaluate().active[("camera_fault", CAMERA)]
    assert "画面冻结 (12 秒画面无变化)" in v.message_zh
    assert _latin_words(v.message_zh) == [], v.message_zh
    assert "picture frozen (no change for 12s)" in v.message_en
    floor.at(20).set(CAMERA, diagnosis="dark", diagnosis_detail="luma 30, …",
                     diagnosis_info='{"code":"measures","luma":30,"spread":9,"blank":0.4,'
                                    '"sharpness":2.1,"cast":0.3}')
    v = floor.evaluate().active[("camera_fault", CAMERA)]
    assert "亮度 30, 反差 9, 无纹理 40%" in v.message_zh and _latin_words(v.message_zh) == []
    assert "luma 30, spread 9, blank 40%, sharpness 2.1, cast 0.3" in v.message_en


def test_lost_camera_with_info_is_worded_in_both_languages() -> None:
    """The driver reports no_signal and its info just before the DeviceLost: the Chinese
    message words the loss in Chinese, the English one as the lost reason did."""
    floor = occupied()
    floor.at(5).set(CAMERA, diagnosis="no_signal", diagnosis_detail="connection refused",
                    diagnosis_info='{"code":"connection_refused"}')
    floor.at(5).lose(CAMERA, "no signal: connection refused")
    v = floor.evaluate().active[("camera_fault", CAMERA)]
    assert "离线 (无信号: 连接被拒绝)" in v.message_zh and _latin_words(v.message_zh) == []
    assert "offline (no signal: connection refused)" in v.message_en


@pytest.mark.parametrize("info", ["not json", '{"seconds": 3}', "[1, 2]", '{"code": 7}'])
def test_bad_diagnosis_info_falls_back_to_the_detail(info: str) -> None:
    """Info that is not an object with a code (bad input, another edge): the detail as
    before, in both messages, and no crash."""
    floor = occupied()
    floor.at(10).set(CAMERA, diagnosis="frozen", diagnosis_detail="no change for 4s",
                     diagnosis_info=info)
    v = floor.evaluate().active[("camera_fault", CAMERA)]
    assert "(no change for 4s)" in v.message_zh and "(no change for 4s)" in v.message_en


def test_unknown_code_shows_code_and_parameters() -> None:
    """A code this server does not know (a newer edge): shown with its parameters."""
    floor = occupied()
    floor.at(10).set(CAMERA, diagnosis="blurred", diagnosis_info='{"code":"fog","level":3}')
    v = floor.evaluate().active[("camera_fault", CAMERA)]
    assert "(fog (level 3))" in v.message_zh and "(fog (level 3))" in v.message_en


def test_camera_lost_for_another_reason_keeps_the_lost_reason() -> None:
    """A camera lost while its last diagnosis was ok (its node went away, say): the lost
    reason, not the old picture measures, is in the message."""
    floor = occupied()
    floor.at(5).set(CAMERA, diagnosis="ok", diagnosis_info='{"code":"measures","luma":130,'
                    '"spread":38,"blank":0.4,"sharpness":1.4,"cast":2.1}')
    floor.at(6).lose(CAMERA, "node edge-interview lost")
    v = floor.evaluate().active[("camera_fault", CAMERA)]
    assert "(node edge-interview lost)" in v.message_en and "luma" not in v.message_en
    assert "(node edge-interview lost)" in v.message_zh
