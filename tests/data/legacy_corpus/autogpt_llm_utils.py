# Source: https://github.com/Significant-Gravitas/Auto-GPT
#   path:    autogpt/llm/llm_utils.py
#   commit:  4f6440597798c51329918034ee08c0b6cc792e60
#   licence: MIT
# Trimmed: everything but the retry decorator (chat completion with plugins, embeddings,
# token chunking); colorama's Fore and Style and autogpt's logger are replaced by
# stand-ins defined below (no colours; the logger's double_check logs a warning).
# retry_openai_api is as it is in the project.
from __future__ import annotations

import functools
import logging
import time

import openai
from openai.error import APIError, RateLimitError, Timeout


class Fore:
    RED = CYAN = RESET = ""


class Style:
    BRIGHT = RESET_ALL = ""


class _Logger(logging.LoggerAdapter):
    def double_check(self, additionalText=None):
        self.warning("double check: %s", additionalText)


logger = _Logger(logging.getLogger("autogpt"), {})


def retry_openai_api(
    num_retries: int = 10,
    backoff_base: float = 2.0,
    warn_user: bool = True,
):
    """Retry an OpenAI API call.

    Args:
        num_retries int: Number of retries. Defaults to 10.
        backoff_base float: Base for exponential backoff. Defaults to 2.
        warn_user bool: Whether to warn the user. Defaults to True.
    """
    retry_limit_msg = f"{Fore.RED}Error: " f"Reached rate limit, passing...{Fore.RESET}"
    api_key_error_msg = (
        f"Please double check that you have setup a "
        f"{Fore.CYAN + Style.BRIGHT}PAID{Style.RESET_ALL} OpenAI API Account. You can "
        f"read more here: {Fore.CYAN}https://docs.agpt.co/setup/#getting-an-api-key{Fore.RESET}"
    )
    backoff_msg = (
        f"{Fore.RED}Error: API Bad gateway. Waiting {{backoff}} seconds...{Fore.RESET}"
    )

    def _wrapper(func):
        @functools.wraps(func)
        def _wrapped(*args, **kwargs):
            user_warned = not warn_user
            num_attempts = num_retries + 1  # +1 for the first attempt
            for attempt in range(1, num_attempts + 1):
                try:
                    return func(*args, **kwargs)

                except RateLimitError:
                    if attempt == num_attempts:
                        raise

                    logger.debug(retry_limit_msg)
                    if not user_warned:
                        logger.double_check(api_key_error_msg)
                        user_warned = True

                except APIError as e:
                    if (e.http_status != 502) or (attempt == num_attempts):
                        raise

                backoff = backoff_base ** (attempt + 2)
                logger.debug(backoff_msg.format(backoff=backoff))
                time.sleep(backoff)

        return _wrapped

    return _wrapper
