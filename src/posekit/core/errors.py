"""The few exception types posekit raises on bad input.

Each message says what was wrong and what to do; the CLI prints it as one line and exits non-zero.
"""


class PosekitError(Exception):
    """Base class: anything a user can fix by changing what they passed in."""


class InputError(PosekitError):
    """An image, annotation or results file that cannot be used as given."""


class ConfigError(PosekitError):
    """A recipe, skeleton definition or option that is unknown or inconsistent."""


class CheckpointError(PosekitError):
    """Weights that do not belong to the model they are loaded into."""
