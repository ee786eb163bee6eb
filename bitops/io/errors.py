"""The one exception loaders raise for a file they cannot take."""


class FormatError(ValueError):
    """A model file is malformed, unsupported or unsafe.

    The message names the file, and where it applies the node, tensor or field
    that was wrong. A subclass of ValueError, so callers that catch bad input
    generically still catch it.
    """
