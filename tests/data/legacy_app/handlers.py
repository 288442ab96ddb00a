"""Error handling as code written for openai<1 did it."""

import openai
import openai.error
from openai import error as oai_err
from openai.error import RateLimitError, APIError as ApiErr
from openai.error import (  # the two that mean "try later"
    Timeout,
    ServiceUnavailableError,
)


def handle(call):
    """Run *call*; say what happened, reading what legacy handlers read."""
    try:
        call()
    except openai.error.AuthenticationError as e:  # a wrong key: tell the operator
        return ("auth", e.http_status, e.user_message)
    except (RateLimitError, oai_err.TryAgain) as e:
        return ("rate", e.http_status, e.headers.get("retry-after-ms"))
    except openai.error.InvalidRequestError as err:
        return ("invalid", err.http_status, err.json_body["error"]["message"])
    except ServiceUnavailableError as e:
        return ("unavailable", e.http_status)
    except Timeout:
        return ("timeout",)
    except oai_err.APIConnectionError:
        return ("connection",)
    except ApiErr as e:
        return ("api", e.http_status, e.code)
    except openai.error.OpenAIError as e:
        return ("other", str(e))
    return ("ok",)


def classify(exc):
    """Transient failures are worth a retry."""
    if isinstance(exc, (openai.error.RateLimitError, oai_err.ServiceUnavailableError)):
        return "transient"
    if isinstance(exc, ApiErr):
        return "api"
    return "permanent"


def fail_fast(message):
    raise openai.error.InvalidRequestError(message, "messages")
