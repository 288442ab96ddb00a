"""A small application written for openai<1, using the legacy error names in every spelling."""
