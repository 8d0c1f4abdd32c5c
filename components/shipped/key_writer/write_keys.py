"""Copy the rendered keys file into the keys volume, atomically.

Run by the one-shot key-writer container (`python3 write_keys.py SOURCE TARGET_DIR`); data to the
Pulumi program, never imported by it. The rename makes the auth hook see either the old or the
new file, never half of one.
"""

import os
import shutil
import sys


def main(source: str, target_dir: str) -> None:
    """Copy `source` to `target_dir/clients.json` through a temporary file and a rename."""
    staged = os.path.join(target_dir, ".clients.json.tmp")
    shutil.copyfile(source, staged)
    os.chmod(staged, 0o444)
    os.replace(staged, os.path.join(target_dir, "clients.json"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
