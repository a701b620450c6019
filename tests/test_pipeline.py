"""
Tests for the plugin timeline: order, dropping, error rules, opt-outs, threads.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from pipeline_support import Probe, tags

from cio_destination._errors import InvalidEventError, PluginError
from cio_destination._model import Violation
from cio_destination._pipeline import Pipeline, PluginType, integration_enabled

_INVALID = InvalidEventError(
    "Object Deleted",
    [Violation("properties.objectId", "required", "properties.objectId is required")],
)


def _message(**fields: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Signed Up",
        "userId": "42",
        "context": {},
        **fields,
    }


def test_plugins_run_in_type_order_whatever_order_they_were_added() -> None:
    """
    Before, enrichment, destination and after plugins run in that order.
    """
    after = Probe("after", "after", action="tag")
    destination = Probe("destination", "destination")
    enrichment = Probe("enrichment", "enrichment", action="tag")
    before = Probe("before", "before", action="tag")
    pipeline = Pipeline([after, destination, enrichment, before])

    result = pipeline.run(_message())

    assert [p.name for p in pipeline.plugins] == [
        "before",
        "enrichment",
        "destination",
        "after",
    ]
    assert tags(destination.seen[0]) == ["before", "enrichment"]
    assert result is not None
    assert tags(result) == ["before", "enrichment", "after"]


def test_a_plugin_type_may_be_given_as_its_string_or_the_enum() -> None:
    """
    ``PluginType`` members and their string values place a plugin alike.
    """
    by_enum = Probe("a", PluginType.ENRICHMENT, action="tag")  # type: ignore[arg-type]
    by_string = Probe("b", "enrichment", action="tag")
    pipeline = Pipeline([by_enum, by_string])

    result = pipeline.run(_message())

    assert result is not None
    assert tags(result) == ["a", "b"]


def test_run_never_changes_the_message_it_is_given() -> None:
    """
    Enrichment works on a copy, so the caller's dict (Segment's) stays as it was.
    """
    message = _message(properties={"plan": {"name": "pro"}})
    original = repr(message)
    pipeline = Pipeline([Probe("tagger", "enrichment", action="tag")])

    result = pipeline.run(message)

    assert repr(message) == original
    assert result is not message
    assert result is not None
    assert result["properties"] is not message["properties"]


@pytest.mark.parametrize(
    ("dropper_type", "reached"),
    [
        pytest.param("before", [], id="before-drops-for-all"),
        pytest.param("enrichment", [], id="enrichment-drops-for-all"),
        pytest.param("after", ["destination"], id="after-drops-for-later-afters"),
    ],
)
def test_a_plugin_returning_none_drops_the_message_for_what_follows(
    dropper_type: str, reached: list[str]
) -> None:
    """
    Returning None stops the message reaching every plugin after the dropper.
    """
    dropper = Probe("dropper", dropper_type, action="drop")
    destination = Probe("destination", "destination")
    last = Probe("last", "after")
    pipeline = Pipeline([dropper, destination, last])

    result = pipeline.run(_message())

    assert result is None
    assert [p.name for p in (destination, last) if p.seen] == reached


def test_a_destination_returning_none_does_not_stop_the_others() -> None:
    """
    Destinations are independent: one dropping the message hides it from no one.
    """
    first = Probe("first", "destination", action="drop")
    second = Probe("second", "destination")
    last = Probe("last", "after")
    pipeline = Pipeline([first, second, last])

    result = pipeline.run(_message())

    assert result is not None
    assert len(second.seen) == 1
    assert len(last.seen) == 1


@pytest.mark.parametrize(
    ("failing_type", "destination_gets_it", "result_tags"),
    [
        pytest.param("before", False, None, id="before-drops"),
        pytest.param("enrichment", True, ["ok"], id="enrichment-skipped"),
        pytest.param("destination", True, ["ok"], id="destination-skipped"),
        pytest.param("after", True, ["ok"], id="after-skipped"),
    ],
)
def test_each_plugin_type_follows_its_error_rule(
    failing_type: str,
    destination_gets_it: bool,
    result_tags: list[str] | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """
    A raising plugin is logged and skipped; a raising before plugin drops it.
    """
    failing = Probe("failing", failing_type, action="raise")
    tagger = Probe("ok", "enrichment", action="tag")
    destination = Probe("destination", "destination")
    pipeline = Pipeline([failing, tagger, destination])

    with caplog.at_level(logging.WARNING, logger="cio_destination._pipeline"):
        result = pipeline.run(_message())

    assert bool(destination.seen) is destination_gets_it
    assert (None if result is None else tags(result)) == result_tags
    assert [record.levelname for record in caplog.records] == ["WARNING"]
    assert "'failing'" in caplog.records[0].getMessage()
    assert "RuntimeError" in caplog.records[0].getMessage()


def test_a_log_line_about_a_failing_plugin_holds_no_message_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """
    The warning names the plugin and the error class, never the error's text.
    """
    failing = Probe("failing", "destination", action="raise")
    failing.error = RuntimeError("secret@example.com")
    pipeline = Pipeline([failing])

    with caplog.at_level(logging.WARNING, logger="cio_destination._pipeline"):
        pipeline.run(_message(userId="secret@example.com"))

    assert "secret" not in caplog.text


def test_a_strict_pipeline_lets_an_invalid_event_error_reach_the_caller() -> None:
    """
    In a strict pipeline a plugin refusing a message raises out of ``run``.
    """
    refusing = Probe("refusing", "destination", action="raise", error=_INVALID)
    pipeline = Pipeline([refusing], strict=True)

    with pytest.raises(InvalidEventError) as caught:
        pipeline.run(_message())

    assert caught.value is _INVALID


def test_a_lenient_pipeline_logs_and_skips_an_invalid_event_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """
    Outside strict mode an invalid-event error is one more logged plugin error.
    """
    refusing = Probe("refusing", "destination", action="raise", error=_INVALID)
    after = Probe("after", "after")
    pipeline = Pipeline([refusing, after])

    with caplog.at_level(logging.WARNING, logger="cio_destination._pipeline"):
        result = pipeline.run(_message())

    assert result is not None
    assert len(after.seen) == 1
    assert "InvalidEventError" in caplog.text


@pytest.mark.parametrize(
    ("integrations", "enabled"),
    [
        pytest.param({}, True, id="none-given"),
        pytest.param({"Customer.io": False}, False, id="turned-off"),
        pytest.param({"Customer.io": True}, True, id="turned-on"),
        pytest.param({"Amplitude": False}, True, id="another-turned-off"),
        pytest.param({"All": False}, False, id="all-off"),
        pytest.param({"All": False, "Customer.io": True}, True, id="all-off-but-this"),
        pytest.param({"All": True, "Customer.io": False}, False, id="all-on-but-this"),
        pytest.param({"Customer.io": {"apiKey": "x"}}, True, id="options-object"),
    ],
)
def test_integrations_turn_a_destination_on_and_off_as_segment_reads_them(
    integrations: dict[str, Any], enabled: bool
) -> None:
    """
    ``integrations`` follow Segment: a false key or ``All: false`` turn it off.
    """
    destination = Probe("customerio", "destination", integration="Customer.io")
    pipeline = Pipeline([destination])

    pipeline.run(_message(integrations=integrations))

    assert integration_enabled({"integrations": integrations}, "Customer.io") is enabled
    assert bool(destination.seen) is enabled


def test_a_destination_without_an_integration_key_ignores_integrations() -> None:
    """
    ``All: false`` concerns only destinations that name an integration key.
    """
    destination = Probe("archive", "destination")
    pipeline = Pipeline([destination])

    pipeline.run(_message(integrations={"All": False}))

    assert len(destination.seen) == 1


@pytest.mark.parametrize(
    ("plugin", "complaint"),
    [
        pytest.param(Probe("odd", "middle"), "type must be one of", id="bad-type"),
        pytest.param(Probe("", "before"), "non-empty string", id="no-name"),
        pytest.param(object(), "non-empty string", id="not-a-plugin"),
    ],
)
def test_adding_something_that_is_not_a_plugin_is_refused(
    plugin: Any, complaint: str
) -> None:
    """
    A plugin without a valid type, name or process method cannot be added.
    """
    pipeline = Pipeline()

    with pytest.raises(PluginError, match=complaint):
        pipeline.add(plugin)

    assert pipeline.plugins == ()


def test_plugin_names_are_unique_within_a_pipeline() -> None:
    """
    A second plugin with a name already in the pipeline is refused.
    """
    pipeline = Pipeline([Probe("same", "before")])

    with pytest.raises(PluginError, match="'same' is already in the pipeline"):
        pipeline.add(Probe("same", "after"))


def test_plugins_are_removed_by_name_or_by_object() -> None:
    """
    ``remove`` takes a name or the plugin itself and returns what it removed.
    """
    first = Probe("first", "enrichment")
    second = Probe("second", "destination")
    pipeline = Pipeline([first, second])

    assert pipeline.remove("first") is first
    assert pipeline.remove(second) is second
    assert pipeline.plugins == ()
    assert pipeline.find("first") is None
    with pytest.raises(PluginError, match="'first' is not in the pipeline"):
        pipeline.remove("first")


def test_flush_and_shutdown_reach_every_plugin_that_has_them() -> None:
    """
    ``flush`` is True only when every plugin finished; shutdown reaches all.
    """
    finished = Probe("finished", "destination")
    unfinished = Probe("unfinished", "destination")
    unfinished.flushed = False
    pipeline = Pipeline([finished, unfinished, Probe("tagger", "enrichment")])

    assert pipeline.flush(2.0) is False
    pipeline.shutdown(1.0)

    assert finished.flushes == unfinished.flushes == [2.0]
    assert finished.shutdowns == unfinished.shutdowns == [1.0]


def test_a_plugin_failing_to_flush_counts_as_unfinished(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """
    An error from a plugin's flush is logged and makes ``flush`` return False.
    """

    class BrokenFlush(Probe):
        def flush(self, timeout: float | None = None) -> bool:
            raise OSError("disk gone")

    pipeline = Pipeline([BrokenFlush("broken", "destination")], strict=True)

    with caplog.at_level(logging.WARNING, logger="cio_destination._pipeline"):
        assert pipeline.flush() is False

    assert "OSError in flush" in caplog.text


def test_many_threads_run_while_plugins_are_added_and_removed() -> None:
    """
    Runs racing with adds and removes each reach every stable plugin once.
    """
    stable = Probe("stable", "destination")
    pipeline = Pipeline([stable])
    runners, runs_each = 4, 300
    start = threading.Barrier(runners + 1)
    errors: list[BaseException] = []

    def track() -> None:
        start.wait()
        for number in range(runs_each):
            try:
                pipeline.run(_message(messageId=str(number)))
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)

    threads = [threading.Thread(target=track) for _ in range(runners)]
    for thread in threads:
        thread.start()
    start.wait()
    changes = 0
    while any(thread.is_alive() for thread in threads):
        pipeline.add(Probe(f"tagger-{changes}", "enrichment", action="tag"))
        pipeline.add(Probe(f"extra-{changes}", "destination"))
        pipeline.remove(f"tagger-{changes}")
        pipeline.remove(f"extra-{changes}")
        changes += 1
    for thread in threads:
        thread.join()

    assert errors == []
    assert changes > 0
    assert len(stable.seen) == runners * runs_each
    assert all(len(tags(message)) <= 1 for message in stable.seen)
    assert [p.name for p in pipeline.plugins] == ["stable"]
