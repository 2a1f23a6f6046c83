"""python -m autolm …: the autolm command-line tool installed with the package."""
import os
import shutil
import sys


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    exe = os.path.join(here, "bin", "autolm")
    if not os.path.exists(exe):
        exe = shutil.which("autolm")
    if exe is None:
        sys.exit("autolm: the command-line tool was not installed with this package")
    os.execv(exe, [exe] + sys.argv[1:])


if __name__ == "__main__":
    main()
