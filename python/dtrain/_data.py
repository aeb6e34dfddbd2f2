"""dtrain's HDF5 data layout (datasets/README.md) from and to numpy arrays,
through h5py (Debian's python3-h5py)."""

import os
import stat
import tempfile

import numpy as np

__all__ = ["read_data", "write_data"]


def _h5py():
    try:
        import h5py
    except ImportError as e:
        raise ImportError("dtrain.read_data and dtrain.write_data need h5py: apt-get install "
                          "python3-h5py") from e
    return h5py


def _names(ds):
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in ds[()]]


def read_data(path, group="train"):
    """(X, y) of group ("train", "test", "valid", ...) of the dtrain data file
    path: X as stored (float32, float64, uint8 or int32), y None when the group
    has none.  Class labels come back as the file's class names (/classes) when
    it has them: ints when every name is an integer literal, else strings."""
    h5py = _h5py()
    from ._estimator import _labels_from_names
    group = group.strip("/")
    with h5py.File(path, "r") as f:
        if group not in f or not isinstance(f[group], h5py.Group):
            have = sorted(k for k in f if isinstance(f[k], h5py.Group))
            raise ValueError("dtrain.read_data: %s has no group /%s (it has: %s)"
                             % (path, group, ", ".join("/" + g for g in have) or "none"))
        g = f[group]
        if "X" not in g:
            raise ValueError("dtrain.read_data: %s has no dataset /%s/X" % (path, group))
        X = g["X"][()]
        y = g["y"][()] if "y" in g else None
        if y is not None and "classes" in f and y.dtype.kind in "iu":
            names = _labels_from_names(_names(f["classes"]))
            if y.size and (y.min() < 0 or y.max() >= len(names)):
                raise ValueError("dtrain.read_data: %s: /%s/y holds labels outside 0..%d, the "
                                 "classes /classes names" % (path, group, len(names) - 1))
            y = names[y]
    return X, y


def _encode(y, classes, what):
    """y as dtrain stores it: (labels int32, class names or None) for classes,
    (float32 targets, None) for values."""
    y = np.asarray(y)
    if classes is not None:
        classes = list(classes)
        lookup = {c: i for i, c in enumerate(classes)}
        try:
            idx = np.array([lookup[v] for v in y.tolist()], dtype=np.int32)
        except KeyError as e:
            raise ValueError("dtrain.write_data: %s holds %r, which is not in classes"
                             % (what, e.args[0])) from None
        return idx, [str(c) for c in classes]
    if y.dtype.kind in "fc":
        return np.ascontiguousarray(y, dtype=np.float32), None
    if y.ndim != 1:
        raise ValueError("dtrain.write_data: %s: class labels must be one column, not shape %s"
                         % (what, y.shape))
    uniq, idx = np.unique(y, return_inverse=True)
    if y.dtype.kind in "iub" and np.array_equal(uniq, np.arange(len(uniq))):
        return y.astype(np.int32), None
    return idx.astype(np.int32), [str(c) for c in uniq]


def _check_X(X, what):
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError("dtrain.write_data: %s must be two-dimensional (rows, features), not "
                         "shape %s" % (what, X.shape))
    if X.dtype not in (np.float32, np.float64, np.uint8, np.int32):
        if X.dtype.kind not in "iufb":
            raise TypeError("dtrain.write_data: %s must be numeric, not %s" % (what, X.dtype))
        X = X.astype(np.float32)
    return X


def write_data(path, X, y=None, group="train", X_test=None, y_test=None, classes=None):
    """Write X (and y) to group of a new dtrain data file path, and X_test,
    y_test to /test: the layout dtrain train reads.  y: float targets (stored
    float32), or class labels -- integers 0..K-1 stored as they are, any other
    labels (strings, [3, 7, 9]) as their indices into classes (default: the
    sorted distinct labels of y and y_test) with the names in /classes.
    Written through a temporary file renamed into place; path must be a
    regular file or not exist."""
    h5py = _h5py()
    path = os.fspath(path)
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("dtrain.write_data: %s exists and is not a regular file: not "
                             "replaced" % path)
    except FileNotFoundError:
        pass
    X = _check_X(X, "X")
    groups = [(group.strip("/"), X, y)]
    if X_test is not None:
        groups.append(("test", _check_X(X_test, "X_test"), y_test))
    if y is not None and classes is None:
        ys = [np.asarray(v) for _, _, v in groups if v is not None]
        if all(v.dtype.kind not in "fc" for v in ys):
            allv = np.concatenate([v.ravel() for v in ys])
            uniq = np.unique(allv)
            if not (allv.dtype.kind in "iub" and np.array_equal(uniq, np.arange(len(uniq)))):
                classes = uniq
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=d)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            names = None
            for g, Xg, yg in groups:
                if yg is not None and len(yg) != len(Xg):
                    raise ValueError("dtrain.write_data: /%s: %d rows of X but %d of y"
                                     % (g, len(Xg), len(yg)))
                f.create_dataset(g + "/X", data=Xg)
                if yg is not None:
                    enc, names = _encode(yg, classes, "y" if g == groups[0][0] else "y_test")
                    f.create_dataset(g + "/y", data=enc)
            if names is not None:
                f.create_dataset("classes", data=names, dtype=h5py.string_dtype("utf-8"))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
