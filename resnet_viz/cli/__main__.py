"""`python -m resnet_viz.cli ...`: the same as the `resnet-viz` script."""

import sys

from resnet_viz.cli import main

if __name__ == "__main__":
    sys.exit(main())
