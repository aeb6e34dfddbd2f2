"""The Python package at two ranks (run as `mpirun -np 2 python3 -m pytest
tests/python/test_mpi.py`): both ways of giving data, the command line's
model bit for bit, a split communicator, local prediction, errors that reach
every rank.

Every rank runs every test. The command-line references run at rank 0 only
(on_root), while the other ranks wait without spinning; every check is
agreed over the ranks (agree), so a failure at one rank fails the test at
all of them instead of leaving them waiting in the next collective.
"""
import pickle
import time

import numpy as np
import pytest
from mpi4py import MPI

from conftest import assert_same_model, read_predictions, same_bits

import dtrain
from dtrain import MLPClassifier

# Short runs end still improving: dtrain's "not converged" warning is expected
# (test_verbose_and_warnings checks it is given).
pytestmark = [pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")]

world = MPI.COMM_WORLD
pytestmark.append(pytest.mark.skipif(world.size != 2, reason="runs under mpirun -np 2"))

# Batches of 64 are two micro-batches of 32 under reproducible=True: one per rank.
PARAMS = dict(hidden_layers=(16,), epochs=3, batch_size=64, lr=0.01, seed=1)
CLI = ["--layers", "16:relu", "--epochs", 3, "--batch-size", 64, "--lr", 0.01,
       "--seed", 1, "--threads", 1]
NAMES = np.array(["setosa", "versicolor", "virginica"])


def wait(req):
    while not req.Test():
        time.sleep(0.02)


def on_root(fn):
    """fn() at rank 0 only, once every rank has got here (so it sees what
    they wrote); every rank returns its result or raises its error."""
    result, err = None, None
    wait(world.Ibarrier())
    if world.rank == 0:
        try:
            result = fn()
        except BaseException as e:  # noqa: B036 -- the other ranks must hear of it
            err = "%s: %s" % (type(e).__name__, e)
    wait(world.Ibarrier())
    result, err = world.bcast((result, err), root=0)
    if err is not None:
        raise AssertionError("at rank 0: " + err)
    return result


def agree(ok, what):
    """Every rank asserts that ok held at every rank."""
    oks = world.allgather(bool(ok))
    assert all(oks), "%s failed at rank(s) %s" % (what, [r for r, o in enumerate(oks) if not o])


def raises_everywhere(exc, fn):
    """fn() raises exc at every rank (and no rank is left waiting)."""
    got = None
    try:
        fn()
    except exc as e:
        got = "%s: %s" % (type(e).__name__, e)
    except Exception as e:  # anything else: report, after the others report too
        got = "WRONG %s: %s" % (type(e).__name__, e)
    gots = world.allgather(got)
    assert all(g is not None and not g.startswith("WRONG") for g in gots), gots
    return got


@pytest.fixture(scope="module")
def refs(cli, datasets, shared_tmp):
    """The command line's models: at 2 ranks, and with --reproducible at 1 rank
    (3 and 2 epochs); `dtrain predict` of the 2-rank one at 2 ranks."""
    data = datasets / "digits.h5"
    d = shared_tmp

    def run():
        cli.run("train", "--data", data, *CLI, "--save", d / "np2.h5", np=2)
        cli.run("train", "--data", data, *CLI, "--reproducible", "--save", d / "r1.h5")
        cli.run("train", "--data", data, *CLI[:2], "--epochs", 2, *CLI[4:], "--reproducible",
                "--save", d / "r1e2.h5")
        cli.run("predict", "--model", d / "np2.h5", "--data", data, "--out", d / "np2-pred.h5",
                np=2)
    on_root(run)
    return dict(np2=d / "np2.h5", r1=d / "r1.h5", r1e2=d / "r1e2.h5",
                np2_pred=d / "np2-pred.h5")


@pytest.fixture(scope="module")
def whole(digits, refs, shared_tmp):
    """Fitted at 2 ranks on COMM_WORLD, every rank passing the whole arrays."""
    X, y, Xt, yt = digits
    est = MLPClassifier(**PARAMS).fit(X, y)
    est.save(str(shared_tmp / "whole.h5"))         # collective
    return est


def test_whole_arrays_equal_cli(whole, refs, shared_tmp):
    agree(whole.n_iter_ == 3 and np.array_equal(whole.classes_, np.arange(10)), "fitted")
    on_root(lambda: assert_same_model(shared_tmp / "whole.h5", refs["np2"]))


def test_own_rows_equal_whole_arrays(digits, refs, shared_tmp, whole):
    X, y, Xt, yt = digits
    rows = np.array_split(np.arange(len(X)), world.size)[world.rank]
    est = MLPClassifier(**PARAMS).fit(X[rows], y[rows], distributed=True)
    agree(est.n_features_in_ == 64 and np.array_equal(est.classes_, np.arange(10)), "fitted")
    agree(same_bits(est.predict_proba(Xt), whole.predict_proba(Xt)), "same predictions")
    agree(np.array_equal(np.asarray(est.loss_curve_), np.asarray(whole.loss_curve_)),
          "same losses")
    est.save(str(shared_tmp / "own.h5"))
    on_root(lambda: assert_same_model(shared_tmp / "own.h5", refs["np2"]))


def test_reproducible_equals_one_rank_cli(digits, refs, shared_tmp):
    X, y, Xt, yt = digits
    params = dict(PARAMS, reproducible=True)
    MLPClassifier(**params).fit(X, y).save(str(shared_tmp / "rw.h5"))
    on_root(lambda: assert_same_model(shared_tmp / "rw.h5", refs["r1"]))
    # uneven shares of rows: rank 0 passes 100 rows, rank 1 the rest
    rows = np.arange(100) if world.rank == 0 else np.arange(100, len(X))
    MLPClassifier(**params).fit(X[rows], y[rows], distributed=True).save(
        str(shared_tmp / "rd.h5"))
    on_root(lambda: assert_same_model(shared_tmp / "rd.h5", refs["r1"]))


def test_predict_and_score_are_local(whole, digits, refs):
    X, y, Xt, yt = digits
    # different calls and row counts at each rank: nothing here may be collective
    if world.rank == 0:
        mine = whole.predict_proba(Xt)
        extra = whole.predict(Xt)
    else:
        mine = whole.predict_proba(Xt[:10])
        extra = whole.score(Xt[:50], yt[:50])
    every = world.allgather(mine)
    agree(same_bits(every[1], every[0][:10]), "rank 1's rows are rank 0's first rows")
    pred = on_root(lambda: read_predictions(refs["np2_pred"]))
    agree(same_bits(every[0], pred["predictions"]), "predictions equal dtrain predict's")
    if world.rank == 0:
        agree(np.array_equal(extra, pred["class"]), "classes")
    else:
        agree(extra == np.mean(pred["class"][:50] == yt[:50]), "score")


def test_split_communicator_trains_independently(digits, refs, shared_tmp):
    """Two 1-rank communicators: each rank its own run (different epochs, so
    different numbers of collectives), each equal to the 1-rank command."""
    X, y, Xt, yt = digits
    sub = world.Split(color=world.rank, key=0)
    try:
        epochs = 3 if world.rank == 0 else 2
        est = MLPClassifier(**dict(PARAMS, epochs=epochs, reproducible=True, comm=sub))
        est.fit(X, y)
        agree(est.n_iter_ == epochs, "epochs")
        est.save(str(shared_tmp / ("split%d.h5" % world.rank)))   # collective over sub
    finally:
        sub.Free()
    on_root(lambda: (assert_same_model(shared_tmp / "split0.h5", refs["r1"]),
                     assert_same_model(shared_tmp / "split1.h5", refs["r1e2"])))


def test_classes_from_every_rank(datasets):
    """Own rows holding different classes: classes_ is their union everywhere."""
    X, y = dtrain.read_data(str(datasets / "iris.h5"))
    order = np.argsort(y, kind="stable")
    X, labels = X[order], NAMES[y[order]]
    rows = np.array_split(np.arange(len(X)), 2)[world.rank]
    mine = set(labels[rows])
    agree(len(mine) == 2, "the split leaves a class out at each rank")
    params = dict(hidden_layers=(4,), epochs=3, batch_size=16, reproducible=True)
    est = MLPClassifier(**params).fit(X[rows], labels[rows], distributed=True)
    agree(list(est.classes_) == list(NAMES), "classes_")
    ref = MLPClassifier(**params).fit(X, labels)
    agree(same_bits(est.predict_proba(X), ref.predict_proba(X)), "same as the whole arrays")


def test_pickle_and_load_are_local(whole, digits, refs):
    X, y, Xt, yt = digits

    def at_root():
        back = pickle.loads(pickle.dumps(whole))
        assert same_bits(back.predict_proba(Xt), whole.predict_proba(Xt))
        loaded = dtrain.load(str(refs["np2"]))          # comm None: COMM_SELF
        assert same_bits(loaded.predict_proba(Xt), whole.predict_proba(Xt))
    on_root(at_root)


def test_errors_reach_every_rank(digits):
    """A problem in one rank's rows, or in the options, raises at every rank."""
    X, y, Xt, yt = digits
    rows = np.array_split(np.arange(len(X)), 2)[world.rank]
    Xr = X[rows].astype(np.float32)
    if world.rank == 1:
        Xr[3, 5] = np.nan
    raises_everywhere(ValueError, lambda: MLPClassifier(**PARAMS).fit(
        Xr, y[rows], distributed=True))
    narrow = X[rows][:, :63] if world.rank == 1 else X[rows]
    raises_everywhere(ValueError, lambda: MLPClassifier(**PARAMS).fit(
        narrow, y[rows], distributed=True))
    msg = raises_everywhere(ValueError, lambda: MLPClassifier(
        **dict(PARAMS, options={"learning_rate": 0.1})).fit(X, y))
    assert "did you mean" in msg
    # still usable afterwards
    est = MLPClassifier(**PARAMS).fit(X, y)
    agree(est.n_iter_ == 3, "fit after the errors")
