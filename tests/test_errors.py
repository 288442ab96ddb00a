"""The common error model: classes, fields, printing, pickling and redaction."""

from __future__ import annotations

import copy
import inspect
import pickle

import pytest

import compat
from compat._errors import ERROR_CLASSES

KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"
AZURE_KEY = "0123456789abcdef0123456789abcdef"


def sample(kind: compat.ErrorKind = compat.ErrorKind.RATE_LIMITED) -> compat.LLMError:
    return ERROR_CLASSES[kind](
        kind=kind,
        message="slow down",
        retry_after=1.5,
        status=429,
        code="rate_limit_exceeded",
        request_id="req_1",
        provider="openai",
        type="requests",
        param="messages",
        headers={"X-Request-Id": "req_1", "Retry-After": "1.5"},
        body={"error": {"message": "slow down"}},
    )


def test_one_class_per_kind() -> None:
    """Every kind has its own subclass of LLMError, exported from compat."""
    assert set(compat.ErrorKind) == set(ERROR_CLASSES)
    for kind, cls in ERROR_CLASSES.items():
        assert issubclass(cls, compat.LLMError)
        assert cls is getattr(compat, cls.__name__)
        assert kind is cls.default_kind


def test_quota_is_not_a_rate_limit() -> None:
    """except RateLimitError must not catch an exhausted quota."""
    assert not issubclass(compat.QuotaExceededError, compat.RateLimitError)
    assert not issubclass(compat.RateLimitError, compat.QuotaExceededError)


def test_related_kinds_nest() -> None:
    """A context-length error is an invalid request; an overloaded service is a server error."""
    assert issubclass(compat.ContextLengthExceededError, compat.InvalidRequestError)
    assert issubclass(compat.OverloadedError, compat.ServerError)


def test_default_retryability_per_kind() -> None:
    """retryable defaults to the kind's: only transient kinds retry."""
    expected = {"conflict", "rate_limited", "overloaded", "server_error", "timeout", "connection"}
    assert expected == {
        k.value for k in compat.ErrorKind if ERROR_CLASSES[k](kind=k, message="x").retryable
    }


def test_fields_and_printing() -> None:
    """repr shows kind, status, code and request id; str reads as a sentence."""
    error = sample()
    assert repr(error) == (
        "RateLimitError(kind='rate_limited', status=429, code='rate_limit_exceeded', "
        "request_id='req_1', retry_after=1.5, provider='openai', message='slow down')"
    )
    assert (
        str(error)
        == "[rate_limited] slow down (status 429, code rate_limit_exceeded, request req_1, retry after 1.5s)"
    )
    assert error.args == ("slow down",)
    assert dict(error.headers) == {"x-request-id": "req_1", "retry-after": "1.5"}
    assert error.body == {"error": {"message": "slow down"}}
    assert (error.type, error.param) == ("requests", "messages")


def test_kind_given_as_text() -> None:
    """The public constructor accepts a kind's value and converts it."""
    error = compat.LLMError(kind="timeout", message="late")  # type: ignore[arg-type]
    assert compat.ErrorKind.TIMEOUT is error.kind
    assert error.retryable


def test_equality_and_hash() -> None:
    """Errors with the same fields are equal and hash alike; different ones are not."""
    assert sample() == sample()
    assert hash(sample()) == hash(sample())
    assert sample() != sample(compat.ErrorKind.SERVER_ERROR)


def test_immutable() -> None:
    """Fields cannot be reassigned: an error is a value."""
    error = sample()
    with pytest.raises(AttributeError):
        error.kind = compat.ErrorKind.UNKNOWN  # type: ignore[misc]


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("kind", list(compat.ErrorKind))
def test_pickle_every_kind_every_protocol(kind: compat.ErrorKind, protocol: int) -> None:
    """Every error survives pickling with all its fields, headers and body."""
    error = sample(kind)
    clone = pickle.loads(pickle.dumps(error, protocol=protocol))
    assert type(error) is type(clone)
    assert error.fields() == clone.fields()
    assert error == clone


def test_deepcopy() -> None:
    """copy.deepcopy keeps every field."""
    error = sample()
    assert error.fields() == copy.deepcopy(error).fields()


def test_cause_is_kept_when_raised() -> None:
    """Raised from the original, the error keeps it as __cause__ with its traceback."""
    original = ValueError("wire")
    with pytest.raises(compat.RateLimitError) as info:
        raise sample() from original
    assert original is info.value.__cause__


def test_secrets_never_shown() -> None:
    """Keys in the message, headers and body appear in no string form and no pickle."""
    error = compat.LLMError(
        kind=compat.ErrorKind.AUTHENTICATION,
        message=f"Incorrect API key provided: {KEY}. Azure key {AZURE_KEY}. Authorization: Bearer abc.def.ghi",
        headers={
            "Authorization": f"Bearer {KEY}",
            "api-key": AZURE_KEY,
            "Ocp-Apim-Subscription-Key": "s3cr3tvalue",
        },
        body={"error": {"message": f"key {KEY}"}, "api_key": "plain-secret-value"},
    )
    shown = [
        str(error),
        repr(error),
        error.message,
        repr(error.args),
        repr(dict(error.headers)),
        repr(error.body),
        pickle.dumps(error).decode("latin-1"),
    ]
    for text in shown:
        for secret in (KEY, AZURE_KEY, "abc.def.ghi", "s3cr3tvalue", "plain-secret-value"):
            assert secret not in text


def test_rate_limit_info() -> None:
    """The x-ratelimit-* headers are available as numbers and seconds."""
    error = compat.from_response(
        429,
        {
            "x-ratelimit-limit-requests": "60",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "1m30s",
            "x-ratelimit-limit-tokens": "150000",
            "x-ratelimit-remaining-tokens": "149000",
            "x-ratelimit-reset-tokens": "400ms",
        },
        {
            "error": {
                "message": "Rate limit reached",
                "type": "requests",
                "code": "rate_limit_exceeded",
            }
        },
    )
    assert error is not None
    assert compat.RateLimitInfo(60, 0, 90.0, 150000, 149000, 0.4) == error.rate_limit
    assert error.retry_after == 90.0


def test_exported_names() -> None:
    """__all__ lists exactly the public names, each resolvable, and is sorted."""
    # Submodules (compat.testing) appear once imported; pytest's assertion rewriting adds
    # "@py_builtins" to modules of a distribution that registers a pytest plugin.
    public = {
        name
        for name in dir(compat)
        if not name.startswith(("_", "@")) and not inspect.ismodule(getattr(compat, name))
    } - {"TYPE_CHECKING", "annotations"}
    assert set(compat.__all__) == public
    for name in compat.__all__:
        assert getattr(compat, name) is not None


def test_package_docstring_draws_the_tree() -> None:
    """The package docstring names every error class."""
    assert compat.__doc__ is not None
    for cls in ERROR_CLASSES.values():
        assert cls.__name__ in compat.__doc__


def test_fast_constructor_matches_the_public_one() -> None:
    """The translation path's _make fills exactly the attributes attrs' __init__ does."""
    public = compat.RateLimitError(
        kind=compat.ErrorKind.RATE_LIMITED,
        message="m",
        retryable=True,
        retry_after=1.0,
        status=429,
        code="c",
        request_id="r",
        provider="openai",
        type="t",
        param="p",
        billed=False,
        headers={"a": "b"},
        body={"x": 1},
    )
    fast = compat.RateLimitError._make(
        {
            "kind": compat.ErrorKind.RATE_LIMITED,
            "_message": "m",
            "retryable": True,
            "retry_after": 1.0,
            "status": 429,
            "code": "c",
            "request_id": "r",
            "provider": "openai",
            "type": "t",
            "param": "p",
            "billed": False,
            "_raw_headers": {"a": "b"},
            "_raw_body": {"x": 1},
        }
    )
    assert set(vars(public)) == set(vars(fast))
    assert public.fields() == fast.fields()
    assert public == fast
    bare = compat.RateLimitError._make({"kind": compat.ErrorKind.RATE_LIMITED, "_message": "m"})
    assert set(vars(public)) == set(vars(bare))
    assert compat.RateLimitError("m") == bare


@pytest.mark.parametrize("kind", list(compat.ErrorKind))
def test_every_subclass_from_a_message_alone(kind: compat.ErrorKind) -> None:
    """Each per-kind class is made from a message alone; its kind and default retryability
    come from the class, other fields by name."""
    cls = ERROR_CLASSES[kind]
    error = cls("it failed")
    assert (kind, kind.retryable, "it failed") == (error.kind, error.retryable, error.message)
    with_fields = cls("it failed", status=500, retry_after=2.0)
    assert (500, 2.0, kind) == (with_fields.status, with_fields.retry_after, with_fields.kind)
    assert error == cls(kind, "it failed") == cls(kind.value, "it failed")
    assert error == cls(kind=kind, message="it failed")


def test_rate_limit_error_from_a_message() -> None:
    """compat.RateLimitError("slow down") is the rate limit the README promises."""
    error = compat.RateLimitError("slow down")
    assert "[rate_limited] slow down" == str(error)
    assert error.retryable


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {"kind": "timeout", "message": "x"}),
        (("x",), {"kind": compat.ErrorKind.TIMEOUT}),
        ((compat.ErrorKind.TIMEOUT, "x"), {}),
        (("timeout", "x"), {}),
        (("nonsense", "x"), {}),
    ],
)
def test_a_subclass_refuses_another_kind(
    args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    """A kind that is not the class's own is refused with a message naming both."""
    with pytest.raises(ValueError, match="RateLimitError is the error of kind 'rate_limited'"):
        compat.RateLimitError(*args, **kwargs)


def test_the_base_class_takes_any_kind() -> None:
    """LLMError(kind, message) keeps working, positionally and by name."""
    assert compat.LLMError("timeout", "late") == compat.LLMError(kind="timeout", message="late")
    assert compat.ErrorKind.TIMEOUT is compat.LLMError("timeout", "late").kind


def test_signals_are_the_decision_headers_read_once() -> None:
    """error._signals gives the lower-cased decision headers, from the answer when the error
    was read from one, else from the headers it was made with."""
    error = compat.from_response(
        429,
        {"Retry-After": "3", "X-Request-Id": "req_1", "Content-Type": "application/json"},
        {"error": {"code": "rate_limit_exceeded", "message": "slow down"}},
    )
    assert error is not None
    assert {"retry-after": "3", "x-request-id": "req_1"} == dict(error._signals)
    made = compat.RateLimitError("slow down", headers={"Retry-After-Ms": "20", "X-Other": "1"})
    assert {"retry-after-ms": "20"} == dict(made._signals)
    assert {} == dict(compat.RateLimitError("slow down")._signals)
