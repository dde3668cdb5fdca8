import sys

if __name__ == "__main__":  # spawned workers re-import this module: keep it light
    from ssnr_core.cli import main

    sys.exit(main())
