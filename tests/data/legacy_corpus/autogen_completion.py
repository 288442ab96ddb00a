# Source: https://github.com/microsoft/autogen
#   path:    autogen/oai/completion.py
#   commit:  070bb8f601860f34c49b0f4082acc860e275e700
#   licence: MIT (the code; autogen's documentation was CC-BY-4.0)
# Trimmed: the tuning (flaml), pricing, caching (diskcache) and evaluation parts of
# Completion; _get_response is as it is in the project, and the two helpers it calls
# are reduced to what a call without the cache needs: get_key (which makes the cache
# key, in autogen/oai/openai_utils.py) to a stand-in, _book_keeping to a no-op (it
# records history and cost). ChatCompletion keeps only its class statement.
from time import sleep
import json
import logging
import time
from typing import Dict

try:
    import openai
    from openai.error import (
        ServiceUnavailableError,
        RateLimitError,
        APIError,
        InvalidRequestError,
        APIConnectionError,
        Timeout,
        AuthenticationError,
    )
    from openai import Completion as openai_Completion

    ERROR = None
except ImportError:
    ERROR = ImportError(
        "please install openai and diskcache to use the autogen.oai subpackage."
    )
    openai_Completion = object
logger = logging.getLogger(__name__)


def get_key(config):
    # Stand-in for autogen.oai.openai_utils.get_key, which makes the cache key.
    return json.dumps(config, sort_keys=True)


class Completion(openai_Completion):
    """A class for OpenAI completion API.

    It also supports: ChatCompletion, Azure OpenAI API.
    """

    # set of models that support chat completion
    chat_models = {
        "gpt-3.5-turbo",
        "gpt-3.5-turbo-0301",  # deprecate in Sep
        "gpt-3.5-turbo-0613",
        "gpt-3.5-turbo-16k",
        "gpt-3.5-turbo-16k-0613",
        "gpt-35-turbo",
        "gpt-4",
        "gpt-4-32k",
        "gpt-4-32k-0314",  # deprecate in Sep
        "gpt-4-0314",  # deprecate in Sep
        "gpt-4-0613",
        "gpt-4-32k-0613",
    }

    seed = 41
    cache_path = f".cache/{seed}"
    # retry after this many seconds
    retry_time = 10
    # fail a request after hitting RateLimitError for this many seconds
    retry_timeout = 120
    # time out for request to openai server
    request_timeout = 60

    @classmethod
    def _book_keeping(cls, config: Dict, response):
        """Book keeping for the created completions."""

    @classmethod
    def _get_response(
        cls, config: Dict, raise_on_ratelimit_or_timeout=False, use_cache=True
    ):
        """Get the response from the openai api call.

        Try cache first. If not found, call the openai api. If the api call fails, retry after retry_time.
        """
        config = config.copy()
        openai.api_key_path = config.pop("api_key_path", openai.api_key_path)
        key = get_key(config)
        if use_cache:
            response = cls._cache.get(key, None)
            if response is not None and (
                response != -1 or not raise_on_ratelimit_or_timeout
            ):
                # print("using cached response")
                cls._book_keeping(config, response)
                return response
        openai_completion = (
            openai.ChatCompletion
            if config["model"] in cls.chat_models or issubclass(cls, ChatCompletion)
            else openai.Completion
        )
        start_time = time.time()
        request_timeout = cls.request_timeout
        retry_timeout = config.pop("retry_timeout", cls.retry_timeout)
        while True:
            try:
                if "request_timeout" in config:
                    response = openai_completion.create(**config)
                else:
                    response = openai_completion.create(
                        request_timeout=request_timeout, **config
                    )
            except (
                ServiceUnavailableError,
                APIConnectionError,
            ):
                # transient error
                logger.info(f"retrying in {cls.retry_time} seconds...", exc_info=1)
                sleep(cls.retry_time)
            except APIError as err:
                error_code = (
                    err
                    and err.json_body
                    and isinstance(err.json_body, dict)
                    and err.json_body.get("error")
                )
                error_code = error_code and error_code.get("code")
                if error_code == "content_filter":
                    raise
                # transient error
                logger.info(f"retrying in {cls.retry_time} seconds...", exc_info=1)
                sleep(cls.retry_time)
            except (RateLimitError, Timeout) as err:
                time_left = retry_timeout - (time.time() - start_time + cls.retry_time)
                if (
                    time_left > 0
                    and isinstance(err, RateLimitError)
                    or time_left > request_timeout
                    and isinstance(err, Timeout)
                    and "request_timeout" not in config
                ):
                    if isinstance(err, Timeout):
                        request_timeout <<= 1
                    request_timeout = min(request_timeout, time_left)
                    logger.info(f"retrying in {cls.retry_time} seconds...", exc_info=1)
                    sleep(cls.retry_time)
                elif raise_on_ratelimit_or_timeout:
                    raise
                else:
                    response = -1
                    if use_cache and isinstance(err, Timeout):
                        cls._cache.set(key, response)
                    logger.warning(
                        f"Failed to get response from openai api due to getting RateLimitError or Timeout for {retry_timeout} seconds."
                    )
                    return response
            except InvalidRequestError:
                if (
                    "azure" in config.get("api_type", openai.api_type)
                    and "model" in config
                ):
                    # azure api uses "engine" instead of "model"
                    config["engine"] = config.pop("model").replace(
                        "gpt-3.5-turbo", "gpt-35-turbo"
                    )
                else:
                    raise
            else:
                if use_cache:
                    cls._cache.set(key, response)
                cls._book_keeping(config, response)
                return response


class ChatCompletion(Completion):
    """A class for OpenAI API ChatCompletion."""
