"""libdtrain through ctypes: the package's only user of the C library.

Everything else in the package sees a `Run` (one dtrain_run) with Python
methods that take numpy arrays and raise the exceptions below; no other
module imports ctypes or names a C function.

The library is found, in this order, at the path in the environment variable
DTRAIN_LIBRARY, at the path `_libpath.py` (written by CMake next to this file
in the build tree and at install) gives relative to this directory, or by
ctypes.util.find_library("dtrain").  mpi4py's MPI module is imported first:
it initialises MPI, which every run needs (a program started without mpirun
is a one-rank job).

ctypes releases the GIL for the duration of each call; the callbacks
(epoch, log, tick) take it again while they run Python code.
"""

import ctypes
import ctypes.util
import os
import signal as _signal

import numpy as np
from mpi4py import MPI

__all__ = [
    "Error", "UsageError", "FileError", "DivergedError", "InternalError", "StoppedError",
    "Run", "version", "lib_path",
]


# ---- exceptions -------------------------------------------------------------

class Error(Exception):
    """Base class of the errors dtrain raises (besides MemoryError and
    KeyboardInterrupt, which keep their builtin types)."""


class UsageError(Error, ValueError):
    """A bad option, argument or data: the caller can fix it (DTRAIN_EUSAGE)."""


class FileError(Error, OSError):
    """A file could not be read or written (DTRAIN_EIO)."""


class DivergedError(Error, FloatingPointError):
    """The training diverged: NaN or Inf in the loss or model (DTRAIN_ENUM)."""


class InternalError(Error, RuntimeError):
    """A defect in dtrain or a library under it (DTRAIN_EINTERNAL), or a run
    that was busy (DTRAIN_EBUSY)."""


class StoppedError(Error, RuntimeError):
    """Training stopped by a signal other than SIGINT, or by the "stop-at-step"
    option.  `signal` is the signal's number (0 for stop-at-step);
    `checkpointed` is True when a checkpoint was written first
    ("checkpoint-dir": the "resume" option continues it)."""

    def __init__(self, message, signal=0, checkpointed=False):
        super().__init__(message)
        self.signal = signal
        self.checkpointed = checkpointed


# dtrain_status values (include/dtrain.h)
OK, EUSAGE, EIO, ENOMEM, ENUM, EBUSY, STOPPED, EINTERNAL, PREEMPTED = 0, 2, 3, 4, 5, 6, 7, 70, 75

_ERRORS = {EUSAGE: UsageError, EIO: FileError, ENOMEM: MemoryError, ENUM: DivergedError,
           EBUSY: InternalError, EINTERNAL: InternalError}

LOG_INFO, LOG_WARN = 1, 2
ALLOW_SIGNALS_SCOPED = 1 << 2

# ---- the library and its prototypes -----------------------------------------


def _find_library():
    env = os.environ.get("DTRAIN_LIBRARY")
    if env:
        return env, "the environment variable DTRAIN_LIBRARY"
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        from . import _libpath
        return os.path.normpath(os.path.join(here, _libpath.LIBRARY)), os.path.join(
            here, "_libpath.py")
    except ImportError:
        pass
    found = ctypes.util.find_library("dtrain")
    if found:
        return found, "the system's library path"
    raise ImportError(
        "dtrain: libdtrain.so not found: this copy of the package (%s) has no _libpath.py "
        "and the system's library path has no libdtrain.  Use the package from the build "
        "tree (PYTHONPATH=build/python), install it with cmake --install, or set "
        "DTRAIN_LIBRARY to the library's path" % here)


def _load():
    path, source = _find_library()
    try:
        return ctypes.CDLL(path), path
    except OSError as e:
        raise ImportError("dtrain: cannot load %s (from %s): %s" % (path, source, e)) from e


_lib, lib_path = _load()

_run_p = ctypes.c_void_p
_i64 = ctypes.c_int64
_f_p = ctypes.POINTER(ctypes.c_float)
_d_p = ctypes.POINTER(ctypes.c_double)


class Info(ctypes.Structure):
    """dtrain_info: where a run stands after a step or an epoch."""
    _fields_ = [("epoch", _i64), ("step", _i64), ("train_loss", ctypes.c_double),
                ("eval_loss", ctypes.c_double), ("eval_metric", ctypes.c_double),
                ("lr", ctypes.c_double), ("seconds", ctypes.c_double)]


class Tick(ctypes.Structure):
    """dtrain_tick: where an epoch stands, for a progress display (rank 0)."""
    _fields_ = [("epoch", _i64), ("epochs", _i64), ("batch", _i64), ("batches", _i64),
                ("samples", _i64), ("n_samples", _i64), ("seconds", ctypes.c_double),
                ("rate", ctypes.c_double), ("loss", ctypes.c_double), ("lr", ctypes.c_double)]


class OptionInfo(ctypes.Structure):
    """dtrain_option_info: an option of a command, for help and completion."""
    _fields_ = [("name", ctypes.c_char_p), ("type", ctypes.c_int), ("metavar", ctypes.c_char_p),
                ("help", ctypes.c_char_p), ("default", ctypes.c_char_p),
                ("choices", ctypes.c_char_p)]


_OPT_OPTPATH, _OPT_EVERY = 7, 8  # dtrain_option_type: a flag with an optional value


_PROGRESS_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(Info))
_TICK_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(Tick))
_LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)

_st = ctypes.c_int  # dtrain_status

_PROTOTYPES = {
    # name: (restype, argtypes)
    "dtrain_version": (ctypes.c_char_p, []),
    "dtrain_create_f": (_st, [ctypes.POINTER(_run_p), ctypes.c_int]),
    "dtrain_free": (None, [_run_p]),
    "dtrain_errmsg": (ctypes.c_char_p, [_run_p]),
    "dtrain_err_option": (ctypes.c_char_p, [_run_p, ctypes.POINTER(ctypes.c_int)]),
    "dtrain_set": (_st, [_run_p, ctypes.c_char_p, ctypes.c_char_p]),
    "dtrain_set_int": (_st, [_run_p, ctypes.c_char_p, _i64]),
    "dtrain_set_double": (_st, [_run_p, ctypes.c_char_p, ctypes.c_double]),
    "dtrain_get": (_st, [_run_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]),
    "dtrain_set_data": (_st, [_run_p, _f_p, _f_p, _i64, _i64, _i64]),
    "dtrain_on_epoch": (_st, [_run_p, _PROGRESS_FN, ctypes.c_void_p]),
    "dtrain_on_tick": (_st, [_run_p, _TICK_FN, ctypes.c_void_p, ctypes.c_double]),
    "dtrain_on_log": (_st, [_run_p, _LOG_FN, ctypes.c_void_p, ctypes.c_int]),
    "dtrain_allow": (_st, [_run_p, ctypes.c_uint]),
    "dtrain_train": (_st, [_run_p]),
    "dtrain_stop_signal": (ctypes.c_int, [_run_p]),
    "dtrain_n_inputs": (_i64, [_run_p]),
    "dtrain_n_outputs": (_i64, [_run_p]),
    "dtrain_output": (ctypes.c_char_p, [_run_p]),
    "dtrain_predict": (_st, [_run_p, _f_p, _i64, _f_p]),
    "dtrain_class_names": (_st, [_run_p, ctypes.POINTER(ctypes.POINTER(ctypes.c_char_p)),
                                 ctypes.POINTER(_i64)]),
    "dtrain_save": (_st, [_run_p, ctypes.c_char_p]),
    "dtrain_load": (_st, [_run_p, ctypes.c_char_p]),
    "dtrain_inspect": (_st, [_run_p, ctypes.c_char_p, ctypes.c_int,
                             ctypes.POINTER(ctypes.c_void_p)]),
    "dtrain_final": (_st, [_run_p, ctypes.POINTER(ctypes.c_void_p)]),
    "dtrain_result_free": (None, [ctypes.c_void_p]),
    "dtrain_result_count": (ctypes.c_int, [ctypes.c_void_p]),
    "dtrain_result_name": (ctypes.c_char_p, [ctypes.c_void_p, ctypes.c_int]),
    "dtrain_result_get": (_st, [ctypes.c_void_p, ctypes.c_char_p, _d_p]),
    "dtrain_history_size": (_st, [_run_p, ctypes.POINTER(_i64), ctypes.POINTER(ctypes.c_int)]),
    "dtrain_history_name": (ctypes.c_char_p, [_run_p, ctypes.c_int]),
    "dtrain_history_column": (_st, [_run_p, ctypes.c_char_p, _d_p, _i64]),
    "dtrain_set_class_names": (_st, [_run_p, ctypes.POINTER(ctypes.c_char_p), _i64]),
    "dtrain_model_image": (_st, [_run_p, ctypes.POINTER(ctypes.c_void_p),
                                 ctypes.POINTER(ctypes.c_size_t)]),
    "dtrain_load_image": (_st, [_run_p, ctypes.c_void_p, ctypes.c_size_t]),
    "dtrain_option_at": (_st, [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(OptionInfo)]),
    "dtrain_options_parse": (_st, [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p,
                                   ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)]),
    "dtrain_options_free": (None, [ctypes.c_void_p]),
    "dtrain_set_options": (_st, [_run_p, ctypes.c_void_p]),
}

for _name, (_restype, _argtypes) in _PROTOTYPES.items():
    try:
        _fn = getattr(_lib, _name)
    except AttributeError:
        raise ImportError("dtrain: %s lacks %s: it is not the library this package belongs "
                          "to (rebuild it, or point DTRAIN_LIBRARY at the right one)"
                          % (lib_path, _name)) from None
    _fn.restype = _restype
    _fn.argtypes = _argtypes


_libc = ctypes.CDLL(None)
_libc.free.restype = None
_libc.free.argtypes = [ctypes.c_void_p]


def version():
    """The library's version, "MAJOR.MINOR.PATCH"."""
    return _lib.dtrain_version().decode()


def _text(b):
    return b.decode("utf-8", "replace") if b else ""


def _bytes(s):
    return s.encode("utf-8") if isinstance(s, str) else bytes(s)


def _float_ptr(a):
    return a.ctypes.data_as(_f_p) if a is not None else None


# ---- a run --------------------------------------------------------------------


_optional_value_keys = None


def _takes_bare_flag(key):
    """Whether train's option key is a flag with an optional value ("resume",
    "log-grad-norms"): True sets it as the bare flag would."""
    global _optional_value_keys
    if _optional_value_keys is None:
        keys, info, i = set(), OptionInfo(), 0
        while _lib.dtrain_option_at(b"train", i, ctypes.byref(info)) == OK:
            if info.type in (_OPT_OPTPATH, _OPT_EVERY):
                keys.add(_text(info.name))
            i += 1
        _optional_value_keys = keys
    return key in _optional_value_keys


def _size_of(comm):
    try:
        return comm.Get_size()
    except Exception:
        return 0


class Run:
    """One dtrain_run on an mpi4py communicator (None: MPI.COMM_WORLD).

    Collective methods must be called by every rank of the communicator.
    close() frees the run (collective); garbage collection frees it only
    when that involves no other process (a one-rank communicator) and MPI
    is still running, since a collective call at an unpredictable moment
    could hang the job."""

    def __init__(self, comm=None):
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self._handle = None
        self._callbacks = {}  # ctypes function objects the library holds
        self.pending = None   # an exception raised in a callback, re-raised by train()
        self._scoped = False  # allow_scoped_signals was called
        h = _run_p()
        try:
            fint = self.comm.py2f()
        except AttributeError:
            raise TypeError("dtrain: comm must be an mpi4py communicator (or None for "
                            "MPI.COMM_WORLD), not %s" % type(self.comm).__name__) from None
        st = _lib.dtrain_create_f(ctypes.byref(h), fint)
        if st != OK:
            raise _ERRORS.get(st, InternalError)(
                "dtrain: " + _text(_lib.dtrain_errmsg(None)))
        self._handle = h
        self.size = _size_of(self.comm)
        self.rank = self.comm.Get_rank()

    # -- life --
    def close(self):
        """Free the run (collective over its communicator)."""
        h, self._handle = self._handle, None
        if h is not None and not MPI.Is_finalized():
            _lib.dtrain_free(h)
        self._callbacks = {}

    def __del__(self):
        # a run of several processes is freed by close() alone: dtrain_free is
        # collective, and garbage collection happens at a different moment on
        # each rank
        try:
            if self._handle is not None and self.size == 1:
                self.close()
        except Exception:
            pass  # at interpreter exit, with the modules half torn down

    @property
    def handle(self):
        if self._handle is None:
            raise ValueError("dtrain: this run was closed")
        return self._handle

    # -- errors --
    def message(self):
        return _text(_lib.dtrain_errmsg(self.handle))

    def option_of_failure(self):
        return _text(_lib.dtrain_err_option(self.handle, None)) or None

    def check(self, st):
        """Raise the exception status st stands for, with the run's message
        (a status of a local call or an agreed one; train() has its own for
        the stops)."""
        if st != OK:
            raise _ERRORS.get(st, InternalError)(self.message())

    # -- options --
    def set(self, key, value):
        """Set option key, as dtrain train --key value: bool as a flag, int, float
        or text."""
        k = _bytes(key)
        if isinstance(value, (bool, np.bool_)) and _takes_bare_flag(key):
            self._set_bare_flag(key, bool(value))
            return
        if isinstance(value, (bool, np.bool_)):
            st = _lib.dtrain_set_int(self.handle, k, int(bool(value)))
        elif isinstance(value, (int, np.integer)):
            st = _lib.dtrain_set_int(self.handle, k, int(value))
        elif isinstance(value, (float, np.floating)):
            st = _lib.dtrain_set_double(self.handle, k, float(value))
        else:
            st = _lib.dtrain_set(self.handle, k, _bytes(str(value)))
        if st == EUSAGE and isinstance(value, (bool, int, float, np.number, np.bool_)):
            # a typed set refuses a text option ("layers" 64): give it the text
            text = str(int(value)) if isinstance(value, (bool, np.bool_)) else str(value)
            st2 = _lib.dtrain_set(self.handle, k, _bytes(text))
            if st2 == OK:
                return
        self.check(st)

    def _set_bare_flag(self, key, on):
        """key on as `--key` alone on the command line gives it (the word the
        library reads as "no value": resume's newest checkpoint), or off."""
        if not on:
            self.check(_lib.dtrain_set(self.handle, _bytes(key), b""))
            return
        opts = ctypes.c_void_p()
        argv = (ctypes.c_char_p * 2)(_bytes("--" + key), None)
        if _lib.dtrain_options_parse(ctypes.byref(opts), b"train", 1, argv) != OK:
            raise UsageError(_text(_lib.dtrain_errmsg(None)))
        try:
            self.check(_lib.dtrain_set_options(self.handle, opts))
        finally:
            _lib.dtrain_options_free(opts)

    def get(self, key):
        buf = ctypes.create_string_buffer(4096)
        self.check(_lib.dtrain_get(self.handle, _bytes(key), buf, len(buf)))
        return _text(buf.value)

    def allow(self, flags):
        self.check(_lib.dtrain_allow(self.handle, flags))

    def allow_scoped_signals(self):
        """Let dtrain_train take SIGINT, SIGTERM, SIGUSR1 and SIGUSR2 for its
        duration (a stop at the next step, after a checkpoint with
        "checkpoint-dir"), putting the program's handlers back as it returns;
        train() then turns the signal into the program's (Python's) action."""
        self.check(_lib.dtrain_allow(self.handle, ALLOW_SIGNALS_SCOPED))
        self._scoped = True

    # -- data and training --
    def set_data(self, X, y):
        """This rank's rows: X (n, d) and y (n, t) float32 C-contiguous (collective)."""
        n, d = X.shape
        t = y.shape[1] if y.ndim == 2 else 1
        self.check(_lib.dtrain_set_data(self.handle, _float_ptr(X), _float_ptr(y), n, d, t))

    def on_epoch(self, fn):
        """fn(info: dict) after each epoch; a truthy return stops (every rank)."""
        def call(user, info):
            if self.pending is not None:
                return 1
            try:
                i = info.contents
                return 1 if fn({"epoch": i.epoch, "step": i.step, "train_loss": i.train_loss,
                                "eval_loss": i.eval_loss, "eval_metric": i.eval_metric,
                                "lr": i.lr, "seconds": i.seconds}) else 0
            except BaseException as e:  # KeyboardInterrupt too: re-raised by train()
                self.pending = e
                return 1
        self._register("epoch", _lib.dtrain_on_epoch, _PROGRESS_FN(call) if fn else None)

    def on_tick(self, fn, every):
        """fn(tick: Tick) on rank 0 at most every `every` seconds within an epoch."""
        def call(user, tick):
            if self.pending is not None:
                return
            try:
                fn(tick.contents)
            except BaseException as e:
                self.pending = e
        self._register("tick", _lib.dtrain_on_tick, _TICK_FN(call) if fn else None, every)

    def on_log(self, fn, min_level):
        """fn(level, line) for each log line at min_level and above."""
        def call(user, level, line):
            try:
                fn(level, _text(line))
            except BaseException as e:
                if self.pending is None:
                    self.pending = e
        self._register("log", _lib.dtrain_on_log, _LOG_FN(call) if fn else None, min_level)

    def _register(self, name, setter, cfn, *extra):
        null = ctypes.cast(None, setter.argtypes[1])
        self.check(setter(self.handle, cfn if cfn is not None else null, None, *extra))
        if cfn is None:
            self._callbacks.pop(name, None)
        else:
            self._callbacks[name] = cfn

    def train(self):
        """dtrain_train (collective).  An exception raised in a callback (this
        rank's) is re-raised here, after the run stopped.  A stop by SIGINT
        raises KeyboardInterrupt, by another signal StoppedError; a signal
        the call took after its last step (scoped signals) is raised again in
        the process once the call returned, for the program's handler."""
        self.pending = None
        st = _lib.dtrain_train(self.handle)
        msg = self.message() if st != OK else ""
        sig = 0
        if st in (STOPPED, PREEMPTED) or (st == OK and self._scoped):
            sig = _lib.dtrain_stop_signal(self.handle)  # collective: every rank is here
        pending, self.pending = self.pending, None
        if pending is not None:
            raise pending
        if st in (STOPPED, PREEMPTED):
            if sig == _signal.SIGINT:
                raise KeyboardInterrupt(msg or "dtrain: training interrupted")
            raise StoppedError(msg or "dtrain: training stopped", signal=sig,
                               checkpointed=st == PREEMPTED)
        if st != OK:
            raise _ERRORS.get(st, InternalError)(msg)
        if sig:
            _signal.raise_signal(sig)

    # -- the model --
    def n_inputs(self):
        return int(_lib.dtrain_n_inputs(self.handle))

    def n_outputs(self):
        return int(_lib.dtrain_n_outputs(self.handle))

    def output(self):
        """The model's output: "softmax", "sigmoid" or "linear" (None: no model)."""
        out = _lib.dtrain_output(self.handle)
        return out.decode() if out is not None else None

    def predict(self, X):
        """The model's outputs for X (n, n_inputs) float32 C-contiguous: (n, K)
        float32 (local)."""
        out = np.empty((X.shape[0], self.n_outputs()), dtype=np.float32)
        self.check(_lib.dtrain_predict(self.handle, _float_ptr(X), X.shape[0], _float_ptr(out)))
        return out

    def class_names(self):
        """The model's class names (list of str), or None without names."""
        names = ctypes.POINTER(ctypes.c_char_p)()
        n = _i64()
        self.check(_lib.dtrain_class_names(self.handle, ctypes.byref(names), ctypes.byref(n)))
        if not names or n.value == 0:
            return None
        return [_text(names[i]) for i in range(n.value)]

    def set_class_names(self, names):
        """Name the model's classes (list of str; empty clears).  Local."""
        arr = (ctypes.c_char_p * max(len(names), 1))(*[_bytes(s) for s in names])
        self.check(_lib.dtrain_set_class_names(self.handle, arr, len(names)))

    def save(self, path):
        self.check(_lib.dtrain_save(self.handle, _bytes(os.fspath(path))))

    def load(self, path):
        self.check(_lib.dtrain_load(self.handle, _bytes(os.fspath(path))))

    def model_image(self):
        """The bytes of the HDF5 file dtrain_save would write.  Local."""
        p = ctypes.c_void_p()
        n = ctypes.c_size_t()
        st = _lib.dtrain_model_image(self.handle, ctypes.byref(p), ctypes.byref(n))
        try:
            self.check(st)
            return ctypes.string_at(p, n.value)
        finally:
            if p:
                _libc.free(p)

    def load_image(self, image):
        """Load a model from model_image's bytes.  Local."""
        buf = ctypes.create_string_buffer(bytes(image), len(image))
        self.check(_lib.dtrain_load_image(self.handle, buf, len(image)))

    def inspect_config(self, path):
        """The YAML of the training options of the model file path.  Local."""
        return self._inspect(path, 1)

    def _inspect(self, path, what):
        p = ctypes.c_void_p()
        st = _lib.dtrain_inspect(self.handle, _bytes(os.fspath(path)), what, ctypes.byref(p))
        try:
            self.check(st)
            return _text(ctypes.string_at(p)) if p else ""
        finally:
            if p:
                _libc.free(p)

    def final(self):
        """dtrain_final's figures as a dict (empty without a trained model)."""
        res = ctypes.c_void_p()
        if _lib.dtrain_final(self.handle, ctypes.byref(res)) != OK:
            return {}
        try:
            out = {}
            v = ctypes.c_double()
            for i in range(_lib.dtrain_result_count(res)):
                name = _lib.dtrain_result_name(res, i)
                if name and _lib.dtrain_result_get(res, name, ctypes.byref(v)) == OK:
                    out[_text(name)] = v.value
            return out
        finally:
            _lib.dtrain_result_free(res)

    def history(self):
        """The per-epoch history: {column: float64 array}."""
        rows, cols = _i64(), ctypes.c_int()
        self.check(_lib.dtrain_history_size(self.handle, ctypes.byref(rows), ctypes.byref(cols)))
        out = {}
        for c in range(cols.value):
            name = _lib.dtrain_history_name(self.handle, c)
            col = np.empty(rows.value, dtype=np.float64)
            self.check(_lib.dtrain_history_column(self.handle, name,
                                                  col.ctypes.data_as(_d_p), rows.value))
            out[_text(name)] = col
        return out
