"""dtrain from Python: scikit-learn estimators over libdtrain.

    import dtrain
    clf = dtrain.MLPClassifier(hidden_layers=(64,), epochs=20).fit(X, y)
    clf.predict(X_new)

Under `mpirun -np P python3 script.py` fit trains data-parallel over
MPI.COMM_WORLD (or the mpi4py communicator given as comm=).  docs/python.md
describes the package.
"""

from ._lib import (DivergedError, Error, FileError, InternalError, StoppedError, UsageError,
                   version as _version)
from ._estimator import MLPClassifier, MLPRegressor, load
from ._data import read_data, write_data

__version__ = _version()

__all__ = ["MLPClassifier", "MLPRegressor", "load", "read_data", "write_data", "Error",
           "UsageError", "FileError", "DivergedError", "InternalError", "StoppedError",
           "__version__"]
