"""ppe-tech: the toolkit of the technical specialist of an exam point (ППЭ).

This package owns what every part shares: the CLI, configuration, exit codes and
errors, the message catalogue, paths and time helpers. The domain packages
(`journal`, `video`, `checks`) and the document layouts (`templates`) sit beside it.
"""

__version__ = "0.2.0"
