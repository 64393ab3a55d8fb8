"""What the hub says about its camera, as pure logic: the ``/status`` record's
exact JSON, and a failure put into words with the errors behind it."""

from __future__ import annotations

import pytest

from mjpeg_server.hub.status import HubState, HubStatus, describe_failure


def status(**changes: object) -> HubStatus:
    """A status with every field distinct, so a key or value swapped shows."""
    fields: dict[str, object] = {
        "name": "front",
        "camera": "emulated (3 frames)",
        "state": HubState.STREAMING,
        "fps_configured": 30.0,
        "fps_measured": 29.87654,
        "resolution": (640, 480),
        "clients": 2,
        "frames_captured": 101,
        "frames_sent": 202,
        "frames_skipped": 3,
        "frames_unchanged": 4,
        "frames_rejected": 5,
        "opens": 6,
        "closes": 7,
        "failures": 8,
        "last_error": "CameraFailed: unplugged",
        "last_error_at": 1700000000.5,
        "root_cause": "CameraNotFound: camera 0",
        "fps_actual": 29.97002997,
    }
    fields.update(changes)
    return HubStatus(**fields)  # type: ignore[arg-type,unused-ignore]


def test_the_status_json_names_every_field_and_rounds_the_rates() -> None:
    assert status().to_json() == {
        "name": "front",
        "camera": "emulated (3 frames)",
        "state": "streaming",
        "fps_configured": 30.0,
        "fps_actual": 29.97,
        "fps_measured": 29.88,
        "resolution": [640, 480],
        "clients": 2,
        "frames_captured": 101,
        "frames_sent": 202,
        "frames_skipped": 3,
        "frames_unchanged": 4,
        "frames_rejected": 5,
        "opens": 6,
        "closes": 7,
        "failures": 8,
        "last_error": "CameraFailed: unplugged",
        "last_error_at": 1700000000.5,
        "root_cause": "CameraNotFound: camera 0",
    }


def test_rates_are_rounded_to_their_own_places() -> None:
    # Three places for the rate the camera reports, two for the measured one.
    record = status(fps_actual=12.34567, fps_measured=12.34567).to_json()
    assert (record["fps_actual"], record["fps_measured"]) == (12.346, 12.35)
    assert isinstance(record["fps_actual"], float)


def test_unknown_rate_and_size_are_null() -> None:
    record = status(fps_actual=None, resolution=None, state=HubState.IDLE).to_json()
    assert record["fps_actual"] is None
    assert record["resolution"] is None
    assert record["state"] == "idle"


def raise_from(error: BaseException, cause: BaseException | None) -> BaseException:
    """``error`` as ``raise error from cause`` leaves it (``from None`` for None)."""
    try:
        raise error from cause
    except BaseException as raised:  # the point: keep it
        return raised


def raise_during(error: BaseException, handling: BaseException) -> BaseException:
    """``error`` raised while ``handling`` was being handled: its implicit context."""
    try:
        try:
            raise handling
        except BaseException:
            raise error  # noqa: B904 - the implicit context is what is tested
    except BaseException as raised:
        return raised


def test_an_error_alone_is_its_type_and_message() -> None:
    assert describe_failure(ValueError("bad")) == "ValueError: bad"


def test_an_implicit_context_is_a_cause() -> None:
    error = raise_during(RuntimeError("read failed"), OSError("gone"))
    assert describe_failure(error) == "RuntimeError: read failed; caused by OSError: gone"


def test_every_cause_down_a_chain_is_named_the_root_last() -> None:
    root = OSError("Device or resource busy")
    middle = raise_from(RuntimeError("open failed"), root)
    top = raise_from(ValueError("camera 0"), middle)
    assert describe_failure(top) == (
        "ValueError: camera 0; caused by RuntimeError: open failed; "
        "caused by OSError: Device or resource busy"
    )


def test_an_implicit_context_further_down_is_followed() -> None:
    middle = raise_during(RuntimeError("open failed"), OSError("busy"))
    top = raise_from(ValueError("camera 0"), middle)
    assert describe_failure(top) == (
        "ValueError: camera 0; caused by RuntimeError: open failed; caused by OSError: busy"
    )


def test_a_context_suppressed_further_down_is_left_out() -> None:
    # `raise ... from None` while handling OSError: the OSError is not a cause.
    middle = raise_during(raise_from(RuntimeError("open failed"), None), OSError("busy"))
    assert middle.__suppress_context__
    assert middle.__context__ is not None
    top = raise_from(ValueError("camera 0"), middle)
    assert describe_failure(top) == "ValueError: camera 0; caused by RuntimeError: open failed"


def test_a_cause_with_no_words_is_left_out() -> None:
    error = raise_from(RuntimeError("open failed"), ValueError())
    assert describe_failure(error) == "RuntimeError: open failed"


def test_a_cause_already_quoted_further_down_is_left_out() -> None:
    root = OSError("busy")
    middle = raise_from(RuntimeError("open failed: busy"), root)
    top = raise_from(ValueError("camera 0"), middle)
    assert describe_failure(top) == (
        "ValueError: camera 0; caused by RuntimeError: open failed: busy"
    )


@pytest.mark.parametrize("back_to", ["top", "middle"])
def test_a_chain_that_loops_ends(back_to: str) -> None:
    top, middle, bottom = ValueError("top"), RuntimeError("middle"), OSError("bottom")
    top.__cause__, middle.__cause__ = middle, bottom
    bottom.__cause__ = top if back_to == "top" else middle
    assert describe_failure(top) == (
        "ValueError: top; caused by RuntimeError: middle; caused by OSError: bottom"
    )
