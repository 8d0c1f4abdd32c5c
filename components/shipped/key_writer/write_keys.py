"""Copy the rendered keys file into the keys volume, atomically.

Run by the one-shot key-writer container (`python3 write_keys.py SOURCE TARGET_DIR`); data to the
Pulumi program, never imported by it. The rename makes the auth hook see either the old or the
new file, never half of one.
"""

import contextlib
import os
import sys
import tempfile


def main(source: str, target_dir: str) -> None:
    """Copy `source` to `target_dir/clients.json` through a fresh temporary file and a rename.

    The staging file is created new every time: the writer runs without capabilities, so a 0444
    file left by an interrupted run could not be opened again, and every later delivery would fail.
    """
    with open(source, "rb") as source_file:
        content = source_file.read()
    descriptor, staged = tempfile.mkstemp(prefix=".clients.json.", dir=target_dir)
    try:
        with os.fdopen(descriptor, "wb") as staged_file:
            staged_file.write(content)
            staged_file.flush()
            os.fsync(staged_file.fileno())
        os.chmod(staged, 0o444)
        os.replace(staged, os.path.join(target_dir, "clients.json"))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(staged)
        raise
    # The rename itself reaches the disk only with the directory.
    directory = os.open(target_dir, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
