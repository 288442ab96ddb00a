# Source: https://github.com/EleutherAI/lm-evaluation-harness
#   path:    lm_eval/models/gpt3.py
#   commit:  51f4994d68956c30fed8f618667635773a267df4
#   licence: MIT
# Trimmed: everything but oa_completion (the GPT3LM model, tokenisation, result
# parsing) and the imports it uses. oa_completion is as it is in the project.
import time


def oa_completion(**kwargs):
    """Query OpenAI API for completion.

    Retry with back-off until they respond
    """
    import openai

    backoff_time = 3
    while True:
        try:
            return openai.Completion.create(**kwargs)
        except openai.error.OpenAIError:
            import traceback

            traceback.print_exc()
            time.sleep(backoff_time)
            backoff_time *= 1.5
