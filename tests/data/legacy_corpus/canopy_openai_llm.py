# Source: https://github.com/pinecone-io/canopy (then named resin)
#   paths:   resin/utils/openai_exceptions.py (commit fe70e801a48595d80c680921d78e460e67af56b0)
#            resin/llm/openai.py (commit bc7cac785108e48ef238b7745102d5772331ebc8)
#   licence: Apache-2.0 (the repository's licence; the index holds no LICENSE file
#            for these commits)
# The two files, joined: OPEN_AI_RETRY_EXCEPTIONS as it is; OpenAILLM trimmed to
# chat_completion (its retry decorator and call as they are). Trimmed: the base class
# and resin's models (messages are dicts here, and the response is returned as the
# SDK gave it instead of as a ChatResponse), the model check in __init__ (it lists the
# account's models), and the other methods.
from typing import Union, Iterable, Optional, Any, Dict, List

import openai
import json
from tenacity import (
    retry,
    wait_random_exponential,
    stop_after_attempt,
    retry_if_exception_type,
)


OPEN_AI_RETRY_EXCEPTIONS = (
    openai.error.Timeout,
    openai.error.APIConnectionError,
    openai.error.APIError,
    openai.error.RateLimitError,
    openai.error.ServiceUnavailableError
)


class OpenAILLM:

    def __init__(self,
                 model_name: str = "gpt-3.5-turbo",
                 *,
                 model_params: Optional[Dict[str, Any]] = None,
                 ):
        self.model_name = model_name
        self.default_model_params = model_params or {}

    @retry(
        wait=wait_random_exponential(min=1, max=10),
        stop=stop_after_attempt(3),
        retry=retry_if_exception_type(OPEN_AI_RETRY_EXCEPTIONS),
    )
    def chat_completion(self,
                        messages: List[Dict[str, str]],
                        *,
                        stream: bool = False,
                        max_tokens: Optional[int] = None,
                        model_params: Optional[Dict[str, Any]] = None,
                        ) -> Union[Any, Iterable[Any]]:

        model_params_dict: Dict[str, Any] = {}
        model_params_dict.update(
            **self.default_model_params
        )
        if model_params:
            model_params_dict.update(**model_params)

        response = openai.ChatCompletion.create(model=self.model_name,
                                                messages=messages,
                                                stream=stream,
                                                max_tokens=max_tokens,
                                                **model_params_dict)

        return response
