import os
import sys

if __name__ == "__main__":  # spawned workers re-import this module: keep it light
    try:
        from ssnr_core.cli import INTERRUPTED, main
    except KeyboardInterrupt:  # Ctrl-C while the modules load (torch takes seconds)
        print("interrupted before anything started; nothing was changed", file=sys.stderr)
        sys.stderr.flush()
        # Not sys.exit: an import cut short can leave the interpreter marked as
        # interrupted, and its shutdown then ends the process by SIGINT instead of 130.
        os._exit(130)
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # after main returned, or between its handlers
        print(INTERRUPTED, file=sys.stderr)
        sys.exit(130)
