#!/usr/bin/env bash
# Runs a test of the Python package (ctest's py_* tests): COMMAND... is pytest
# (or mpirun ... pytest) under DTRAIN_PYTHON.  First checks that DTRAIN_PYTHON
# has the modules the package and its tests import.  Without one it names the
# Debian packages to install and exits 77 (ctest reports the test as skipped),
# except in CI (CI=true), where scripts/install-deps.sh has installed them and
# a missing one is a failure.
#
#   tests/python/run.sh COMMAND...
set -uo pipefail
py=${DTRAIN_PYTHON:-/usr/bin/python3}
missing=$("$py" -c '
import importlib.util
need = {"numpy": "python3-numpy", "sklearn": "python3-sklearn", "mpi4py": "python3-mpi4py",
        "pytest": "python3-pytest", "h5py": "python3-h5py", "pandas": "python3-pandas"}
print(" ".join(deb for mod, deb in need.items() if importlib.util.find_spec(mod) is None))
' 2>/dev/null) || missing=python3
if [[ -n $missing ]]; then
  if [[ $missing == python3 ]]; then
    echo "DTRAIN_PYTHON ($py) does not run: apt-get install python3 (or scripts/install-deps.sh)"
  else
    echo "$py lacks what the Python tests need: apt-get install $missing (or scripts/install-deps.sh)"
  fi
  if [[ ${CI:-} == true ]]; then
    echo "FAIL: CI has run scripts/install-deps.sh, which installs them"
    exit 1
  fi
  echo "skipped"
  exit 77
fi
exec "$@"
