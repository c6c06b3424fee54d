"""What both command lines share: one-line errors and the exit codes they map to."""

import argparse
import sys

from ..errors import UserError


class Parser(argparse.ArgumentParser):
    def error(self, message):
        # One line, not the usage block: the user asked for something specific.
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        sys.exit(2)


def exit_code(prog, action, interrupted):
    """Run `action()`; map a UserError to 2 and Ctrl-C to 130, each with one line on stderr.

    A KeyboardInterrupt that carries a message (what is on disk) says that
    instead of `interrupted`.
    """
    try:
        return action()
    except UserError as err:
        sys.stderr.write(f"{prog}: error: {err}\n")
        return 2
    except KeyboardInterrupt as err:
        sys.stderr.write(f"{prog}: {err or interrupted}\n")
        return 130
