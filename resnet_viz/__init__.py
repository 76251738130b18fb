"""ResNet Lab: measure why residual connections let deep networks train.

Importing this package is cheap on purpose (no torch, no streamlit): the CLI's ``--help`` and
the import-hygiene tests rely on it. Import the submodules you need.
"""

__version__ = "0.1.0"
