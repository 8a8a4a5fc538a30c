"""Problem types: prompts, answer schemas, problem parsers and instance generators."""
