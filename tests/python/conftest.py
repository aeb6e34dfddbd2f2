"""Fixtures shared by the Python package's tests (test_api.py at 1 rank,
test_mpi.py under mpirun).

Reference results come from the command line (`dtrain train`, `dtrain
predict`), an independent client of the same library, run as a child
process with a timeout. Paths come from the environment that ctest sets:
DTRAIN (the command, default <repo>/build/dtrain) and DTRAIN_DATASETS (the
bundled data sets, default <repo>/datasets).
"""
import faulthandler
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

# mpi4py first: importing it initialises MPI (a singleton without mpirun),
# as the package does.
from mpi4py import MPI

import dtrain  # noqa: E402  (after mpi4py, as the package itself does)

REPO = Path(__file__).resolve().parents[2]

# Variables the launcher gives its processes. A command started from inside
# a rank must not inherit them, or its own mpirun (or singleton MPI_Init)
# would try to join this job instead of starting its own.
_LAUNCHER_VARS = re.compile(
    r"^(PMIX_|OMPI_COMM_WORLD_|OMPI_UNIVERSE_SIZE$|OMPI_APP_CTX|OMPI_NUM_APP_CTX$|"
    r"OMPI_COMMAND$|OMPI_ARGV$|OMPI_FILE_LOCATION$|OMPI_FIRST_RANKS$|"
    r"OMPI_MCA_(ess|orte_|pmix|initial_wdir$|mpi_oversubscribe$|shmem_RUNTIME_QUERY_hint$))")


def child_env():
    env = {k: v for k, v in os.environ.items() if not _LAUNCHER_VARS.match(k)}
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    return env


class Cli:
    """The dtrain command, run as a child process (with a timeout, always)."""

    def __init__(self, path):
        self.path = str(path)

    def run(self, *args, np=1, timeout=120, check=True):
        argv = [self.path] + [str(a) for a in args]
        if np > 1:
            argv = ["mpirun", "--oversubscribe", "-np", str(np)] + argv
        p = subprocess.run(argv, env=child_env(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("%s exited with %d\nstdout:\n%s\nstderr:\n%s"
                                 % (" ".join(argv), p.returncode, p.stdout, p.stderr))
        return p


@pytest.fixture(scope="session")
def cli():
    path = Path(os.environ.get("DTRAIN", REPO / "build" / "dtrain"))
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail("the dtrain command is not at %s (set DTRAIN, or build first)" % path)
    return Cli(path)


@pytest.fixture(scope="session")
def datasets():
    path = Path(os.environ.get("DTRAIN_DATASETS", REPO / "datasets"))
    if not (path / "digits.h5").is_file():
        pytest.fail("the bundled data sets are not in %s (set DTRAIN_DATASETS)" % path)
    return path


@pytest.fixture(scope="module")
def digits(datasets):
    """digits.h5's /train and /test: X, y, Xt, yt."""
    X, y = dtrain.read_data(str(datasets / "digits.h5"))
    Xt, yt = dtrain.read_data(str(datasets / "digits.h5"), group="test")
    return X, y, Xt, yt


@pytest.fixture(scope="session")
def world():
    return MPI.COMM_WORLD


_SHARED = []  # shared_tmp's directory, for hang_guard to remove


@pytest.fixture(scope="session")
def shared_tmp(world):
    """One temporary directory for the whole session, the same at every rank
    (rank 0 makes it and sends its path; every rank can read what another
    wrote once a barrier separates them)."""
    path = tempfile.mkdtemp(prefix="dtrain-py-") if world.rank == 0 else None
    path = world.bcast(path, root=0)
    _SHARED.append(path)
    yield Path(path)
    world.Barrier()
    if world.rank == 0:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(autouse=True)
def hang_guard(world, request):
    """At more than one rank, a rank waiting in a collective the others never
    enter would hang the job until ctest's timeout. After DTRAIN_PY_HANG
    seconds (default 90) in one test, print every thread's stack, naming the
    rank and the test, and end the process (mpirun then ends the job)."""
    if world.size == 1:
        yield
        return
    limit = float(os.environ.get("DTRAIN_PY_HANG", "90"))
    capman = request.config.pluginmanager.getplugin("capturemanager")
    done = threading.Event()

    def watch():
        if done.wait(limit):
            return
        with tempfile.TemporaryFile("w+") as f:
            faulthandler.dump_traceback(file=f, all_threads=True)
            f.seek(0)
            stacks = f.read()
        msg = ("\n%s: rank %d still in it after %g s (a collective that another rank "
               "never entered?); its threads:\n%s\n" % (request.node.nodeid, world.rank,
                                                         limit, stacks))
        try:   # past pytest's capture, which would keep it until the test ends
            with capman.global_and_fixture_disabled():
                sys.stderr.write(msg)
                sys.stderr.flush()
        except Exception:
            os.write(2, msg.encode())
        if world.rank == 0:   # the session's teardown will not run
            for path in _SHARED:
                shutil.rmtree(path, ignore_errors=True)
        os._exit(3)

    threading.Thread(target=watch, daemon=True).start()
    yield
    done.set()


def h5_tree(path, groups):
    """{dataset path: numpy array} of every dataset under the given groups."""
    import h5py
    out = {}
    with h5py.File(path, "r") as f:
        for g in groups:
            assert g in f, "%s has no %s" % (path, g)

            def visit(name, obj, g=g):
                if isinstance(obj, h5py.Dataset):
                    out[g + "/" + name] = obj[()]
            f[g].visititems(visit)
    return out


def assert_same_model(a, b, groups=("model", "normalization")):
    """The two saved models' datasets under `groups` are equal bit for bit."""
    ta, tb = h5_tree(a, groups), h5_tree(b, groups)
    assert sorted(ta) == sorted(tb), "datasets differ: %s vs %s" % (sorted(ta), sorted(tb))
    assert ta, "no datasets under %s in %s" % (groups, a)
    for k in ta:
        x, y = np.asarray(ta[k]), np.asarray(tb[k])
        assert x.dtype == y.dtype and x.shape == y.shape, k
        # Bits, not values: NaN == NaN and -0.0 != 0.0 here.
        assert x.tobytes() == y.tobytes(), "%s differs between %s and %s" % (k, a, b)


def read_predictions(path):
    """dtrain predict's .h5 output: /predictions, /class, /class_name."""
    import h5py
    out = {}
    with h5py.File(path, "r") as f:
        out["predictions"] = f["predictions"][()]
        if "class" in f:
            out["class"] = f["class"][()]
        if "class_name" in f:
            out["class_name"] = f["class_name"].asstr()[()]
    return out


def same_bits(a, b):
    """Equal bit for bit as float32 (dtrain's output type); a float64 array
    holding values that are not float32 values fails."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    exact = np.array_equal(a32.astype(a.dtype), a) and np.array_equal(b32.astype(b.dtype), b)
    return exact and a32.tobytes() == b32.tobytes()
