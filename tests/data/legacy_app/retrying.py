"""A retry loop as code written for openai<1 wrote it."""

import time

import openai
import openai.error as oe


def with_retries(call, attempts=3):
    for attempt in range(attempts):
        try:
            return call()
        except oe.RateLimitError as exc:
            # The legacy SDK kept no code on a 429: read it from the body.
            if (exc.json_body or {}).get("error", {}).get("code") == "insufficient_quota":
                raise
            time.sleep(0.01)
        except (oe.ServiceUnavailableError, openai.error.APIError):
            time.sleep(0.01)
    return call()


def status_of(exc):
    if isinstance(exc, openai.error.OpenAIError):
        return exc.http_status
    return None
