# Source: https://github.com/MaartenGr/BERTopic
#   paths:   bertopic/representation/_utils.py (retry_with_exponential_backoff;
#            commit 0bc5244f70348eb3fa6945597fc1df9ecefd8988)
#            bertopic/representation/_openai.py (completions_with_backoff and
#            chat_completions_with_backoff; the version for openai<1, commit not
#            recorded by the index)
#   licence: MIT
# The three functions as they are in the project, joined in one file; trimmed: the
# OpenAI representation model and truncate_document.
import random
import time

import openai


def retry_with_exponential_backoff(
    func,
    initial_delay: float = 1,
    exponential_base: float = 2,
    jitter: bool = True,
    max_retries: int = 10,
    errors: tuple = None,
):
    """Retry a function with exponential backoff."""
 
    def wrapper(*args, **kwargs):
        # Initialize variables
        num_retries = 0
        delay = initial_delay
 
        # Loop until a successful response or max_retries is hit or an exception is raised
        while True:
            try:
                return func(*args, **kwargs)
 
            # Retry on specific errors
            except errors as e:
                # Increment retries
                num_retries += 1
 
                # Check if max retries has been reached
                if num_retries > max_retries:
                    raise Exception(
                        f"Maximum number of retries ({max_retries}) exceeded."
                    )
 
                # Increment the delay
                delay *= exponential_base * (1 + jitter * random.random())
 
                # Sleep for the delay
                time.sleep(delay)
 
            # Raise exceptions for any errors not specified
            except Exception as e:
                raise e
 
    return wrapper


def completions_with_backoff(**kwargs):
    return retry_with_exponential_backoff(openai.Completion.create, errors=(openai.error.RateLimitError,))(**kwargs)


def chat_completions_with_backoff(**kwargs):
    return retry_with_exponential_backoff(openai.ChatCompletion.create, errors=(openai.error.RateLimitError,))(**kwargs)
