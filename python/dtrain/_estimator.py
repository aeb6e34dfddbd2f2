"""scikit-learn estimators over dtrain: MLPClassifier, MLPRegressor, load().

A fit is one whole dtrain run (`dtrain train` on arrays): the options are
dtrain's, with its defaults, so the same options and data give the command
line's model bit for bit.  fit and save are collective over the estimator's
communicator (every rank calls them); predict, predict_proba and score are
local (each rank predicts its own rows).
"""

import re
import shutil
import sys
import warnings

import numpy as np
from mpi4py import MPI
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from . import _lib

__all__ = ["MLPClassifier", "MLPRegressor", "load"]

# Constructor parameter -> dtrain option key, for those passed as they are.
_OPTION_KEYS = {
    "optimizer": "optimizer", "lr": "lr", "epochs": "epochs", "batch_size": "batch-size",
    "precision": "precision", "reproducible": "reproducible", "seed": "seed",
    "valid_split": "valid-split", "early_stopping": "early-stopping",
    "checkpoint_dir": "checkpoint-dir", "threads": "threads",
}

# What does not apply to a dtrain estimator, for scikit-learn's checks.
_XFAIL_CHECKS = {}


def _layers_option(hidden_layers, activation):
    """hidden_layers as dtrain's "layers" text: a tuple of widths (each with
    `activation`; empty: no hidden layer), or a layers text kept as it is."""
    if isinstance(hidden_layers, str):
        return hidden_layers
    if isinstance(hidden_layers, (int, np.integer)):
        hidden_layers = (hidden_layers,)
    try:
        widths = list(hidden_layers)
    except TypeError:
        raise TypeError("hidden_layers must be a tuple of layer widths or a dtrain layers "
                        "text such as '64:relu,32:tanh', not %r" % (hidden_layers,)) from None
    if not widths:
        return "none"
    for w in widths:
        if isinstance(w, (bool, np.bool_)) or not isinstance(w, (int, np.integer)):
            raise TypeError("hidden_layers: each width must be an int, not %r" % (w,))
    return ",".join("%d:%s" % (int(w), activation) for w in widths)


def _agree(comm, exc):
    """Raise on every rank of comm when any rank failed (exc not None), so that
    no rank goes on into a collective call the others never make."""
    if comm.Get_size() == 1:
        if exc is not None:
            raise exc
        return
    failures = comm.allgather(
        None if exc is None else (isinstance(exc, ValueError), type(exc).__name__, str(exc)))
    if exc is not None:
        raise exc
    for rank, f in enumerate(failures):
        if f is not None:
            cls = _lib.UsageError if f[0] else _lib.Error
            raise cls("dtrain: rank %d of the communicator failed: %s: %s" % (rank, f[1], f[2]))


def _classes_named(classes):
    """Whether the model needs names for classes: unless they are 0..K-1, the
    labels dtrain's own class numbers are."""
    return not (classes.dtype.kind in "iu" and np.array_equal(classes, np.arange(len(classes))))


def _labels_from_names(names):
    """Class names as labels: ints when every name is an integer literal, else
    the strings."""
    if all(re.fullmatch(r"[+-]?\d+", s) for s in names):
        return np.array([int(s) for s in names])
    return np.array(names)


class _Progress:
    """dtrain's progress line on stderr (a terminal), redrawn in place from
    rank 0's ticks; log lines go above it."""

    def __init__(self):
        self.shown = False

    def clear(self):
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
            self.shown = False

    def tick(self, t):
        """dtrain train's bar: "epoch 3/10 [=====>    ] 45%  ...", as wide as the
        terminal allows, never up to its last column (a wrapped line could not
        be redrawn)."""
        frac = t.samples / t.n_samples if t.n_samples else 0.0
        left = (t.n_samples - t.samples) / t.rate if t.rate > 0 else float("nan")
        eta = "%d:%02d" % divmod(int(round(left)), 60) if left == left else "?"
        head = "epoch %d/%d" % (t.epoch, t.epochs)
        tail = "%3.0f%%  %d/%d  %.0f samples/s  ETA %s  loss %.4f" % (
            100 * frac, t.samples, t.n_samples, t.rate, eta, t.loss)
        cols = shutil.get_terminal_size((80, 24)).columns - 1
        if len(head) + len(tail) + 14 > cols:  # narrow: the essentials
            tail = "%3.0f%%  %.0f samples/s  ETA %s  loss %.4f" % (100 * frac, t.rate, eta, t.loss)
        w = max(0, min(30, cols - len(head) - len(tail) - 4))
        full = int(frac * w)
        bar = "".join("=" if i < full else ">" if i == full else " " for i in range(w))
        line = "%s [%s] %s" % (head, bar, tail)
        sys.stderr.write("\r" + line[:max(cols, 1)] + "\033[K")
        sys.stderr.flush()
        self.shown = True


class _DtrainMLP(BaseEstimator):
    """What the classifier and the regressor share: options, fit, predict."""

    _output = None  # the head: "softmax" or "linear"

    def __init__(self, *, hidden_layers=(100,), activation="relu", optimizer="adam", lr=None,
                 epochs=50, batch_size=32, precision="fp32", reproducible=False, seed=1,
                 valid_split=0.0, early_stopping=0, checkpoint_dir=None, threads=1,
                 verbose=False, callback=None, comm=None, options=None):
        self.hidden_layers = hidden_layers
        self.activation = activation
        self.optimizer = optimizer
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.precision = precision
        self.reproducible = reproducible
        self.seed = seed
        self.valid_split = valid_split
        self.early_stopping = early_stopping
        self.checkpoint_dir = checkpoint_dir
        self.threads = threads
        self.verbose = verbose
        self.callback = callback
        self.comm = comm
        self.options = options

    # ---- tags ----
    def _more_tags(self):
        return {"_xfail_checks": dict(_XFAIL_CHECKS)}

    # ---- fitting ----
    def _comm(self):
        return MPI.COMM_WORLD if self.comm is None else self.comm

    def _configure(self, run):
        """Give run the estimator's options (named parameters, then `options`)."""
        run.set("layers", _layers_option(self.hidden_layers, self.activation))
        for param, key in _OPTION_KEYS.items():
            value = getattr(self, param)
            if value is None:
                continue  # dtrain's default ("lr" auto, no "checkpoint-dir")
            run.set(key, value)
        options = dict(self.options or {})
        if "output" not in options:
            run.set("output", self._output)
        for key, value in options.items():
            if not isinstance(key, str):
                raise TypeError("options: keys are dtrain option names (str), not %r" % (key,))
            if value is None:
                continue  # dtrain's default
            if isinstance(value, (list, tuple)):
                value = ",".join(str(v) for v in value)
            run.set(key, value)

    def _validate_fit(self, X, y, distributed):
        """(X float32 C-contiguous, y as given by sklearn's checks) for this rank."""
        kw = {"dtype": np.float32, "order": "C"}
        if distributed:
            kw["ensure_min_samples"] = 0  # a rank may hold no rows
        if self._output == "linear":
            X, y = self._validate_data(X, y, reset=True, multi_output=True, y_numeric=True, **kw)
        else:
            X, y = self._validate_data(X, y, reset=True, **kw)
            check_classification_targets(y)
        return X, y

    def _targets(self, y, comm, distributed):
        """y as the float32 rows dtrain takes ((n,) or (n, t)), and the fitted
        attributes that describe the targets (classes_ from every rank's labels
        when distributed)."""
        raise NotImplementedError

    def fit(self, X, y, distributed=False):
        """Train a new model on X (n, n_features) and y.  Collective over comm:
        distributed=False, every rank passes the whole arrays; True, each rank
        passes its own rows (gathered in rank order).  Returns self."""
        comm = self._comm()
        # agree on each rank's validation before _targets, whose allgather of
        # the classes a rank that failed would skip, then on _targets (whose
        # checks after that allgather see the same classes on every rank), so
        # that no rank enters a collective alone
        exc = None
        try:
            X, y = self._validate_fit(X, y, distributed)
        except Exception as e:
            exc = e
        _agree(comm, exc)
        try:
            y_rows, fitted = self._targets(y, comm, distributed)
        except Exception as e:
            exc = e
        _agree(comm, exc)
        if not distributed:
            size, rank = comm.Get_size(), comm.Get_rank()
            lo, hi = len(X) * rank // size, len(X) * (rank + 1) // size
            X, y_rows = X[lo:hi], y_rows[lo:hi]  # views: no copy
        old = getattr(self, "_run", None)
        run = _lib.Run(comm)
        exc = None
        try:
            self._configure(run)
            run.set_data(X, y_rows)
            self._train(run)
        except BaseException as e:
            exc = e
        try:
            # the library agrees on its failures; an exception raised in a
            # callback (or KeyboardInterrupt from Python's own handler) is one
            # rank's, and must not leave the others in the collectives below
            _agree(comm, exc)
            history = run.history()
            final = run.final()
            run.set_data(X[:0], y_rows[:0])  # the run's copy of the rows is no longer needed
            if fitted.get("_classes_named"):
                run.set_class_names([str(c) for c in fitted["classes_"]])
        except BaseException:
            run.close()  # every rank is here
            raise
        if old is not None and (old.size == 1 or old.comm is comm):
            old.close()
        fitted.pop("_classes_named", None)
        for k, v in fitted.items():
            setattr(self, k, v)
        self.n_outputs_ = run.n_outputs()
        self.history_ = history
        self.loss_curve_ = [float(v) for v in history.get("train_loss", [])]
        self.n_iter_ = len(self.loss_curve_)
        self.final_ = final
        self._run = run
        return self

    def _train(self, run):
        """dtrain_train with the log, progress and epoch callbacks."""
        root = run.rank == 0
        progress = _Progress() if (self.verbose and root and sys.stderr.isatty()) else None
        warned = []

        def log(level, line):
            if level >= _lib.LOG_WARN:
                warned.append(line)
            elif root:
                if progress:
                    progress.clear()
                print(line, flush=True)
        run.on_log(log, _lib.LOG_INFO if self.verbose else _lib.LOG_WARN)
        if progress:
            run.on_tick(progress.tick, 0.1)
        if self.callback is not None:
            run.on_epoch(self.callback)
        run.allow_scoped_signals()
        try:
            run.train()
        finally:
            if progress:
                progress.clear()
            if root:
                for line in warned:
                    category = ConvergenceWarning if line.startswith("not converged") \
                        else UserWarning
                    warnings.warn("dtrain: " + line, category, stacklevel=3)

    # ---- predicting ----
    def _outputs(self, X):
        """The model's outputs for X: float32 (n, n_outputs).  Local."""
        check_is_fitted(self)
        X = self._validate_data(X, reset=False, dtype=np.float32, order="C")
        return self._run.predict(X)

    # ---- files ----
    def save(self, path):
        """Write the model to the HDF5 file path, the layout `dtrain predict`
        reads.  Collective over the communicator of the fit."""
        check_is_fitted(self)
        self._run.save(path)

    def __getstate__(self):
        # a copy: BaseEstimator's may be the object's own __dict__
        state = dict(super().__getstate__())
        run = state.pop("_run", None)
        if run is not None:
            state["_model_image"] = run.model_image()
        if state.get("comm") is not None:
            state["comm"] = None  # a communicator cannot be pickled: COMM_WORLD's stands in
        return state

    def __setstate__(self, state):
        image = state.pop("_model_image", None)
        super().__setstate__(state)
        if image is not None:
            run = _lib.Run(MPI.COMM_SELF)
            run.load_image(image)
            self._run = run


_PARAMETERS = """
    Parameters (all keyword; the defaults are dtrain train's, so the same
    options give the command line's model):
      hidden_layers  tuple of widths, each with `activation` (() for none), or
                     a dtrain layers text such as "64:relu,32:tanh"  [(100,)]
      activation     the hidden layers' activation for a tuple  ["relu"]
      optimizer, lr, epochs, batch_size, precision, reproducible, seed,
      valid_split, early_stopping, checkpoint_dir, threads
                     dtrain's options of those names ("batch-size", ...); lr
                     None is dtrain's automatic rate
      verbose        print dtrain's log lines (rank 0) and, on a terminal, its
                     progress line on stderr
      callback       called after each epoch with a dict (epoch, step,
                     train_loss, eval_loss, eval_metric, lr, seconds); a truthy
                     return stops training; an exception stops it and is
                     raised from fit
      comm           the mpi4py communicator to train on; None: MPI.COMM_WORLD
      options        dict of any other dtrain option key -> value, set last
                     ({"schedule": "cosine", "l2": 1e-4}); None values are
                     left at dtrain's default

    Fitted attributes: n_features_in_, feature_names_in_ (DataFrame input),
    n_outputs_, loss_curve_ (training loss per epoch), history_ (dict column
    -> array: the per-epoch table of the "log" option), n_iter_ (epochs run),
    final_ (dict of the final metrics).

    fit and save are collective over comm; predict and score are local.
    A SIGINT during fit (Ctrl-C) stops training at the next step (after a
    checkpoint with checkpoint_dir) and raises KeyboardInterrupt.
"""


class MLPClassifier(ClassifierMixin, _DtrainMLP):
    __doc__ = """A multilayer perceptron classifier trained by dtrain (softmax
    output, cross-entropy).  classes_ holds the labels of y, strings included;
    y is given to dtrain as each label's index into classes_.
""" + _PARAMETERS

    _output = "softmax"

    def _targets(self, y, comm, distributed):
        classes = np.unique(y)
        if distributed and comm.Get_size() > 1:
            parts = comm.allgather(classes)
            classes = np.unique(np.concatenate(parts))
        if len(classes) < 2:
            raise ValueError("MLPClassifier needs samples of at least 2 classes, but the data "
                             "holds only one class: %r" % (classes[0] if len(classes) else None,))
        idx = np.searchsorted(classes, y)
        return (np.ascontiguousarray(idx, dtype=np.float32),
                {"classes_": classes, "_classes_named": _classes_named(classes)})

    def predict_proba(self, X):
        """Class probabilities (n, n_classes), columns in the order of
        classes_.  Local."""
        p = self._outputs(X)
        if p.shape[1] == 1:  # sigmoid: P(class 1)
            p = np.hstack([1 - p, p])
        return p.astype(np.float64)

    def predict_log_proba(self, X):
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each row, as dtrain predict decides it
        (the first of equal probabilities; a sigmoid's p > 0.5).  Local."""
        p = self._outputs(X)
        k = (p[:, 0] > np.float32(0.5)).astype(np.intp) if p.shape[1] == 1 else p.argmax(axis=1)
        return self.classes_[k]


class MLPRegressor(RegressorMixin, _DtrainMLP):
    __doc__ = """A multilayer perceptron regressor trained by dtrain (linear
    output, mean squared error); y is (n,) or (n, n_targets).
""" + _PARAMETERS

    _output = "linear"

    def _more_tags(self):
        tags = super()._more_tags()
        tags["multioutput"] = True
        return tags

    def _targets(self, y, comm, distributed):
        y = np.asarray(y)
        rows = np.ascontiguousarray(y.reshape(len(y), -1) if y.ndim != 2 else y,
                                    dtype=np.float32)
        return rows, {"_y_ndim": y.ndim}

    def predict(self, X):
        """The predicted values: (n,) for a one-dimensional y at fit, else
        (n, n_targets).  Local."""
        p = self._outputs(X).astype(np.float64)
        return p.ravel() if getattr(self, "_y_ndim", 2) == 1 else p


# ---- a saved model ----------------------------------------------------------

def _parse_config(text):
    """The YAML dtrain inspect --config writes: flat `key: value` lines."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([a-z0-9-]+):\s*(.*?)\s*$", line)
        if m:
            v = m.group(2)
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
                v = v[1:-1]
            out[m.group(1)] = v
    return out


def _params_from_config(cfg):
    """The estimator parameters a model's training options give."""
    params = {}
    if "layers" in cfg:
        params["hidden_layers"] = cfg["layers"]
    conv = {"optimizer": str, "lr": float, "epochs": int, "batch-size": int, "precision": str,
            "seed": int, "valid-split": float, "early-stopping": int, "threads": int}
    keys = {v: k for k, v in _OPTION_KEYS.items()}
    for key, f in conv.items():
        if key in cfg and cfg[key] not in ("", "auto"):
            try:
                params[keys[key]] = f(cfg[key])
            except ValueError:
                pass
    if "reproducible" in cfg:
        params["reproducible"] = cfg["reproducible"] in ("1", "true", "on")
    return params


def load(path, comm=None):
    """A fitted estimator from a model file saved by est.save, `dtrain train
    --save` or a checkpoint: MLPClassifier for a softmax or sigmoid model,
    MLPRegressor for a linear one.  comm None: MPI.COMM_SELF (each rank reads
    the file itself; the estimator predicts locally); else collective over comm."""
    run = _lib.Run(MPI.COMM_SELF if comm is None else comm)
    try:
        run.load(path)
        output = run.output()
        try:
            params = _params_from_config(_parse_config(run.inspect_config(path)))
        except _lib.Error:
            params = {}
    except BaseException:
        run.close()
        raise
    est = (MLPRegressor if output == "linear" else MLPClassifier)(**params)
    if output != "linear":
        names = run.class_names()
        k = 2 if output == "sigmoid" else run.n_outputs()
        est.classes_ = _labels_from_names(names) if names else np.arange(k)
        if output == "sigmoid" and "output" not in (est.options or {}):
            est.options = {"output": "sigmoid"}
    else:
        est._y_ndim = 1 if run.n_outputs() == 1 else 2
    est.n_features_in_ = run.n_inputs()
    est.n_outputs_ = run.n_outputs()
    est.history_, est.loss_curve_, est.n_iter_, est.final_ = {}, [], 0, {}
    est.comm = comm
    est._run = run
    return est
