#!/usr/bin/env bash
# Print a working Python 3.10 interpreter (Rasa 3.6 needs < 3.11): PATH first, then pyenv's.
for candidate in python3.10 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10.*/bin/python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys, venv; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then
    command -v "$candidate"
    exit 0
  fi
done
exit 1
