import sys

from ssnr_core.cli import main

if __name__ == "__main__":
    sys.exit(main())
