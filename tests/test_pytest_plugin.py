"""
Tests for the pytest fixtures, run the way a user's suite runs them.

Each test writes a user's test module and runs it with ``pytester`` in this
process; the fixtures come from the ``pytest11`` entry point, as they would
for a user.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from cio_destination._schemas import schema_examples

pytest_plugins = ["pytester"]

#: Hypothesis' plugin takes a second to start and none of these runs need it.
_FAST = ("-p", "no:hypothesispytest")


def test_a_valid_semantic_event_is_recorded(pytester: pytest.Pytester) -> None:
    """
    A valid event tracked on ``cio_client`` shows in ``cio_recorder``.
    """
    pytester.makepyfile(
        """
        def test_deleting_an_account(cio_client, cio_recorder):
            cio_client.track("42", "Signed Up", {"plan": "pro"})
            cio_client.track("42", "User Deleted")

            assert cio_recorder.events == ["User Deleted"]
            (operation,) = cio_recorder.operations
            assert operation.body["action"] == "delete"
        """
    )

    result = pytester.runpytest(*_FAST)

    result.assert_outcomes(passed=1)


def test_the_environment_cannot_disable_the_recorder(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    ``cio_client`` records even when the environment disables the recorder.
    """
    monkeypatch.setenv("CIO_DESTINATION_DISABLED_PLUGINS", "customerio-recorder")
    pytester.makepyfile(
        """
        def test_deleting_an_account(cio_client, cio_recorder):
            cio_client.track("42", "User Deleted")

            assert cio_recorder.events == ["User Deleted"]
        """
    )

    result = pytester.runpytest(*_FAST)

    result.assert_outcomes(passed=1)


def test_an_invalid_event_fails_with_every_violation_listed(
    pytester: pytest.Pytester,
) -> None:
    """
    An invalid event fails the user's test with event, path and rule of each.
    """
    pytester.makepyfile(
        """
        def test_registering_a_device(cio_client):
            cio_client.track(
                "42", "Device Created or Updated", {"device": {"type": "windows"}}
            )
        """
    )

    result = pytester.runpytest(*_FAST)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*Customer.io violations*",
            "'Device Created or Updated' breaks its schema (2 violations):",
            "  context.device.token [[]required[]] *",
            "  context.device.type [[]enum[]] *windows*",
        ]
    )


def test_an_alias_is_refused_in_strict_mode(pytester: pytest.Pytester) -> None:
    """
    The fixtures are strict: an alias of the docs raises InvalidEventError.
    """
    pytester.makepyfile(
        """
        import pytest
        from cio_destination import InvalidEventError

        def test_alias(cio_client, cio_recorder):
            with pytest.raises(InvalidEventError) as caught:
                cio_client.track("42", "Delete Person")

            assert caught.value.violations[0].rule == "const"
            assert cio_recorder.events == []
        """
    )

    result = pytester.runpytest(*_FAST)

    result.assert_outcomes(passed=1)


def test_assert_conforms_fails_readably(pytester: pytest.Pytester) -> None:
    """
    ``cio_assert_conforms`` names the event, the path and the rule it broke.
    """
    pytester.makepyfile(
        """
        def test_payload(cio_assert_conforms):
            cio_assert_conforms(
                {
                    "type": "track",
                    "event": "Object Deleted",
                    "userId": "42",
                    "properties": {},
                }
            )
        """
    )

    result = pytester.runpytest(*_FAST)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E*AssertionError: 'Object Deleted' breaks its schema (1 violation):",
            "E*properties.objectId [[]required[]] *",
        ]
    )
    result.stdout.no_fnmatch_line("*def assert_conforms*")


def test_examples_parametrize_a_test_with_readable_ids(
    pytester: pytest.Pytester,
) -> None:
    """
    ``cio_examples()`` gives one case per schema example, each recorded as sent.
    """
    pytester.makepyfile(
        """
        import pytest
        from cio_destination.pytest_plugin import cio_examples, track_message

        @pytest.mark.parametrize("message", cio_examples())
        def test_example(message, cio_client, cio_recorder):
            track_message(cio_client, message)

            assert cio_recorder.events == [message["event"]]
        """
    )

    result = pytester.runpytest(*_FAST, "-v")

    result.assert_outcomes(passed=len(list(schema_examples())))
    result.stdout.fnmatch_lines(["*test_example?Object Deleted 2? PASSED*"])


def test_the_default_client_stands_in_for_the_module(
    pytester: pytest.Pytester,
) -> None:
    """
    ``cio_default_client`` records what the app sends through the module API.
    """
    pytester.makepyfile(
        """
        import segment.analytics as analytics

        BEFORE = analytics.default_client

        def test_module_api(cio_default_client, cio_recorder):
            analytics.track("42", "User Suppressed")

            assert analytics.default_client is cio_default_client
            assert cio_recorder.events == ["User Suppressed"]

        def test_module_client_is_restored():
            assert analytics.default_client is BEFORE
        """
    )

    result = pytester.runpytest(*_FAST)

    result.assert_outcomes(passed=2)


def test_the_transport_fixture_can_be_overridden(pytester: pytest.Pytester) -> None:
    """
    Overriding ``cio_transport`` makes the recorder evaluate for Pipelines.
    """
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        def cio_transport():
            return "pipelines"

        def test_pipelines(cio_client, cio_recorder):
            cio_client.track("42", "User Deleted")

            (operation,) = cio_recorder.operations
            assert operation.kind.value == "pipelines"
        """
    )

    result = pytester.runpytest(*_FAST)

    result.assert_outcomes(passed=1)


def test_users_add_their_own_plugins_to_the_fixture_pipeline(
    pytester: pytest.Pytester,
) -> None:
    """
    ``cio_pipeline`` takes the app's own plugins; they run before recording.
    """
    pytester.makepyfile(
        """
        class MoveToken:
            type = "enrichment"
            name = "move-token"

            def process(self, message):
                token = message["properties"].pop("push_token", None)
                if token:
                    message["context"]["device"] = {"token": token, "type": "ios"}
                return message

        def test_enriched(cio_client, cio_pipeline, cio_recorder):
            cio_pipeline.add(MoveToken())

            cio_client.track("42", "Device Created or Updated", {"push_token": "t"})

            assert cio_recorder.events == ["Device Created or Updated"]
        """
    )

    result = pytester.runpytest(*_FAST)

    result.assert_outcomes(passed=1)


def test_importing_the_plugin_starts_nothing() -> None:
    """
    Importing the plugin module starts no thread and creates no segment client.
    """
    code = (
        "import threading, cio_destination.pytest_plugin\n"
        "import segment.analytics\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
        "assert segment.analytics.default_client is None\n"
    )

    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )

    assert completed.returncode == 0, completed.stderr


@pytest.mark.parametrize("transport", ["track", "pipelines"])
def test_the_emulator_client_delivers_through_the_chosen_api(
    pytester: pytest.Pytester, transport: str
) -> None:
    """
    What ``cio_emulator_client`` tracks reaches ``cio_emulator`` by ``cio_transport``.
    """
    pytester.makeconftest(
        f"""
        import pytest

        @pytest.fixture
        def cio_transport():
            return {transport!r}
        """
    )
    pytester.makepyfile(
        """
        ROUTES = {"track": "/api/v2/batch", "pipelines": "/v1/batch"}

        def test_registering_a_device(
            cio_emulator_client, cio_emulator, cio_transport
        ):
            device = {"device": {"token": "tok-1", "type": "ios"}}
            cio_emulator_client.track("42", "Signed Up", {"plan": "pro"})
            cio_emulator_client.track(
                "42", "Device Created or Updated", context=device
            )
            cio_emulator_client.track("7", "User Suppressed")
            cio_emulator_client.flush()

            state = cio_emulator.state()
            assert state["devices"]["tok-1"]["owner"] == "id:42"
            assert state["suppressed"] == ["id:7"]
            assert state["events"] == []
            assert list(state["requests"]) == [ROUTES[cio_transport]]
        """
    )

    result = pytester.runpytest(*_FAST)

    result.assert_outcomes(passed=1)


def test_the_emulator_client_refuses_an_invalid_event(
    pytester: pytest.Pytester,
) -> None:
    """
    The emulator client is strict: an invalid event raises and is never sent.
    """
    pytester.makepyfile(
        """
        import pytest
        from cio_destination import InvalidEventError

        def test_deleting_an_object(cio_emulator_client, cio_emulator):
            with pytest.raises(InvalidEventError) as caught:
                cio_emulator_client.track("42", "Object Deleted")
            cio_emulator_client.flush()

            assert caught.value.violations[0].path == "properties.objectId"
            assert cio_emulator.state()["requests"] == {}
        """
    )

    result = pytester.runpytest(*_FAST)

    result.assert_outcomes(passed=1)


def test_each_test_gets_a_fresh_emulator_and_nothing_is_left_running(
    pytester: pytest.Pytester,
) -> None:
    """
    Every test has its own empty emulator; after it, no thread or port is left.
    """
    pytester.makepyfile(
        """
        import threading

        import pytest
        import requests

        BEFORE = set(threading.enumerate())
        URLS = []

        @pytest.mark.parametrize("user", ["1", "2"])
        def test_suppress(user, cio_emulator_client, cio_emulator):
            cio_emulator_client.track(user, "User Suppressed")
            cio_emulator_client.flush()

            assert cio_emulator.state()["suppressed"] == [f"id:{user}"]
            URLS.append(cio_emulator.url)

        def test_all_stopped():
            assert len(set(URLS)) == 2
            assert set(threading.enumerate()) <= BEFORE
            for url in URLS:
                with pytest.raises(requests.ConnectionError):
                    requests.get(url + "/_emulator/state", timeout=5)
        """
    )

    result = pytester.runpytest(*_FAST, "-W", "error")

    result.assert_outcomes(passed=3)
