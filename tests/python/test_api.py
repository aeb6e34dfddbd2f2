"""The Python package at one rank: estimators against the command line (the
same library through another client), labels, errors, Ctrl-C, scikit-learn
composition, pickling, data files.

Bitwise wherever the package promises it: a model fitted with
reproducible=True and the options of a `dtrain train --reproducible` run is
that run's model, bit for bit, and predictions of one model agree bit for
bit whichever client computes them.
"""
import os
import pickle
import signal
import time

import numpy as np
import pytest

from conftest import assert_same_model, h5_tree, read_predictions, same_bits

import dtrain
from dtrain import MLPClassifier, MLPRegressor

# Short runs end still improving: dtrain's "not converged" warning is expected
# (test_verbose_and_warnings checks it is given).
pytestmark = [pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")]


# Small runs: a hidden layer of 16 and a few epochs take well under a second.
DIGITS = dict(hidden_layers=(16,), epochs=3, batch_size=32, lr=0.01, seed=1,
              reproducible=True, options={"schedule": "cosine"})
DIGITS_CLI = ["--layers", "16:relu", "--epochs", 3, "--batch-size", 32, "--lr", 0.01,
              "--seed", 1, "--reproducible", "--schedule", "cosine", "--threads", 1]
DIABETES = dict(hidden_layers=(16,), activation="tanh", epochs=5, batch_size=16, seed=3,
                reproducible=True)
DIABETES_CLI = ["--layers", "16:tanh", "--epochs", 5, "--batch-size", 16, "--seed", 3,
                "--reproducible", "--threads", 1]


def history_column(path, name):
    import h5py
    with h5py.File(path, "r") as f:
        cols = f["history"].attrs["columns"]
        cols = (cols.decode() if isinstance(cols, bytes) else str(cols)).split(",")
        return f["history/epochs"][:, cols.index(name)]


@pytest.fixture(scope="module")
def iris(datasets):
    X, y = dtrain.read_data(str(datasets / "iris.h5"))
    Xt, yt = dtrain.read_data(str(datasets / "iris.h5"), group="test")
    return X, y, Xt, yt


@pytest.fixture(scope="module")
def digits_runs(cli, datasets, digits, tmp_path_factory):
    """One fit of each client on digits; both models, and `dtrain predict`'s
    output of each on /test."""
    d = tmp_path_factory.mktemp("digits")
    data = datasets / "digits.h5"
    X, y, Xt, yt = digits
    cli.run("train", "--data", data, *DIGITS_CLI, "--save", d / "cli.h5")
    cli.run("predict", "--model", d / "cli.h5", "--data", data, "--out", d / "cli-pred.h5")
    est = MLPClassifier(**DIGITS).fit(X, y)
    est.save(str(d / "py.h5"))
    cli.run("predict", "--model", d / "py.h5", "--data", data, "--out", d / "py-pred.h5")
    return dict(dir=d, est=est, cli_model=d / "cli.h5", py_model=d / "py.h5",
                cli_pred=read_predictions(d / "cli-pred.h5"),
                py_pred=read_predictions(d / "py-pred.h5"))


@pytest.fixture(scope="module")
def diabetes_runs(cli, datasets, tmp_path_factory):
    d = tmp_path_factory.mktemp("diabetes")
    data = datasets / "diabetes.h5"
    X, y = dtrain.read_data(str(data))
    Xt, yt = dtrain.read_data(str(data), group="test")
    cli.run("train", "--data", data, *DIABETES_CLI, "--save", d / "cli.h5")
    cli.run("predict", "--model", d / "cli.h5", "--data", data, "--out", d / "cli-pred.h5")
    est = MLPRegressor(**DIABETES).fit(X, y)
    est.save(str(d / "py.h5"))
    cli.run("predict", "--model", d / "py.h5", "--data", data, "--out", d / "py-pred.h5")
    return dict(dir=d, est=est, X=X, y=y, Xt=Xt, yt=yt, cli_model=d / "cli.h5",
                py_model=d / "py.h5", cli_pred=read_predictions(d / "cli-pred.h5"),
                py_pred=read_predictions(d / "py-pred.h5"))


# --- the command line's model and predictions, bit for bit -------------------

def test_classifier_model_equals_cli(digits_runs):
    assert_same_model(digits_runs["py_model"], digits_runs["cli_model"])


def test_classifier_history_equals_cli(digits_runs):
    est = digits_runs["est"]
    assert est.n_iter_ == 3
    assert len(est.loss_curve_) == 3
    cli_loss = history_column(digits_runs["cli_model"], "train_loss")
    assert np.array_equal(np.asarray(est.loss_curve_, dtype=np.float64), cli_loss)
    assert np.array_equal(np.asarray(est.history_["train_loss"], dtype=np.float64), cli_loss)
    assert np.array_equal(np.asarray(est.history_["lr"], dtype=np.float64),
                          history_column(digits_runs["cli_model"], "lr"))


def test_classifier_predictions_equal_cli(digits_runs, digits):
    est, cli_pred = digits_runs["est"], digits_runs["cli_pred"]
    X, y, Xt, yt = digits
    proba = est.predict_proba(Xt)
    assert proba.shape == (len(Xt), 10)
    assert same_bits(proba, cli_pred["predictions"])
    assert np.array_equal(est.predict(Xt), est.classes_[cli_pred["class"]])
    assert np.array_equal(est.classes_, np.arange(10))
    assert est.n_features_in_ == 64


def test_cli_reads_saved_model(digits_runs, digits):
    """est.save -> dtrain predict: the estimator's own predictions."""
    est, Xt = digits_runs["est"], digits[2]
    assert same_bits(digits_runs["py_pred"]["predictions"], est.predict_proba(Xt))
    assert np.array_equal(est.classes_[digits_runs["py_pred"]["class"]], est.predict(Xt))


def test_load_cli_model(digits_runs, digits):
    X, y, Xt, yt = digits
    m = dtrain.load(str(digits_runs["cli_model"]))
    assert isinstance(m, MLPClassifier)
    assert np.array_equal(m.classes_, np.arange(10))
    assert m.n_features_in_ == 64
    assert same_bits(m.predict_proba(Xt), digits_runs["cli_pred"]["predictions"])
    assert np.array_equal(m.predict(Xt), digits_runs["cli_pred"]["class"])
    # score is accuracy, as dtrain predict counts it
    assert m.score(Xt, yt) == pytest.approx(np.mean(digits_runs["cli_pred"]["class"] == yt), abs=0)


def test_held_out_rows_equal_cli(cli, datasets, digits, tmp_path):
    """valid_split and early_stopping mean what --valid-split and
    --early-stopping do: the same rows held out, the same epoch kept."""
    X, y, Xt, yt = digits
    params = dict(DIGITS, epochs=6, valid_split=0.25, early_stopping=1, lr=0.05, options=None)
    est = MLPClassifier(**params).fit(X, y)
    est.save(str(tmp_path / "py.h5"))
    cli.run("train", "--data", datasets / "digits.h5", "--layers", "16:relu", "--epochs", 6,
            "--batch-size", 32, "--lr", 0.05, "--seed", 1, "--reproducible", "--threads", 1,
            "--valid-split", 0.25, "--early-stopping", 1, "--save", tmp_path / "cli.h5")
    assert_same_model(tmp_path / "py.h5", tmp_path / "cli.h5")
    valid = history_column(tmp_path / "cli.h5", "valid_loss")
    assert np.array_equal(np.asarray(est.history_["valid_loss"], dtype=np.float64), valid)
    assert est.n_iter_ == len(valid) < 6          # it stopped early


def test_sigmoid_head_equals_cli(cli, datasets, tmp_path):
    """options={"output": "sigmoid"}: dtrain's one probability column becomes
    predict_proba's second (scikit-learn's two columns)."""
    data = datasets / "breast-cancer.h5"
    X, y = dtrain.read_data(str(data))
    Xt, yt = dtrain.read_data(str(data), group="test")
    est = MLPClassifier(hidden_layers=(8,), epochs=3, reproducible=True,
                        options={"output": "sigmoid"}).fit(X, y)
    est.save(str(tmp_path / "py.h5"))
    cli.run("train", "--data", data, "--layers", "8:relu", "--epochs", 3, "--reproducible",
            "--threads", 1, "--output", "sigmoid", "--save", tmp_path / "cli.h5")
    cli.run("predict", "--model", tmp_path / "cli.h5", "--data", data, "--out", tmp_path / "p.h5")
    assert_same_model(tmp_path / "py.h5", tmp_path / "cli.h5")
    out = read_predictions(tmp_path / "p.h5")
    proba = est.predict_proba(Xt)
    assert proba.shape == (len(Xt), 2)
    assert same_bits(proba[:, 1], out["predictions"][:, 0])
    assert np.allclose(proba.sum(axis=1), 1, rtol=0, atol=1e-6)
    assert np.array_equal(est.predict(Xt), out["class"])
    assert isinstance(dtrain.load(str(tmp_path / "cli.h5")), MLPClassifier)


def test_input_types_give_same_model(digits_runs, digits):
    """float64, Fortran order, a list of lists and uint8 all hand over the same
    float32 values; a dtrain layers string is the same as widths + activation."""
    X, y, Xt, yt = digits
    ref = digits_runs["est"].predict_proba(Xt)
    params = dict(DIGITS, hidden_layers="16:relu")
    est = MLPClassifier(**params).fit(np.asfortranarray(X.astype(np.float64)), y.tolist())
    assert same_bits(est.predict_proba(np.asfortranarray(Xt.astype(np.float64))), ref)
    assert same_bits(est.predict_proba(Xt.tolist()), ref)


def test_regressor_model_equals_cli(diabetes_runs):
    assert_same_model(diabetes_runs["py_model"], diabetes_runs["cli_model"])
    assert np.array_equal(np.asarray(diabetes_runs["est"].loss_curve_, dtype=np.float64),
                          history_column(diabetes_runs["cli_model"], "train_loss"))


def test_regressor_predictions_equal_cli(diabetes_runs):
    est, Xt = diabetes_runs["est"], diabetes_runs["Xt"]
    p = est.predict(Xt)
    assert p.shape == (len(Xt),)
    cli = diabetes_runs["cli_pred"]["predictions"]
    assert same_bits(p, cli.reshape(p.shape))
    assert same_bits(diabetes_runs["py_pred"]["predictions"], cli)
    m = dtrain.load(str(diabetes_runs["cli_model"]))
    assert isinstance(m, MLPRegressor)
    assert same_bits(m.predict(Xt), p)
    # R^2 in the targets' units (the model predicts them, not standardised ones)
    r2 = est.score(Xt, diabetes_runs["yt"])
    assert 0.0 < r2 < 1.0


def test_regressor_two_targets_equals_cli(cli, diabetes_runs, tmp_path):
    """y of shape (n, 2): the command line trains on the same /train/y."""
    X, y, Xt = diabetes_runs["X"], diabetes_runs["y"], diabetes_runs["Xt"]
    Y = np.stack([y, np.log(y)], axis=1).astype(np.float32)
    data, new = tmp_path / "two.h5", tmp_path / "new.h5"
    dtrain.write_data(str(data), X, Y)
    dtrain.write_data(str(new), Xt, group="test")
    cli.run("train", "--data", data, *DIABETES_CLI, "--save", tmp_path / "cli.h5")
    cli.run("predict", "--model", tmp_path / "cli.h5", "--data", new,
            "--out", tmp_path / "p.h5")
    est = MLPRegressor(**DIABETES).fit(X, Y)
    assert est.n_outputs_ == 2
    est.save(str(tmp_path / "py.h5"))
    assert_same_model(tmp_path / "py.h5", tmp_path / "cli.h5")
    p = est.predict(Xt)
    assert p.shape == (len(Xt), 2)
    assert same_bits(p, read_predictions(tmp_path / "p.h5")["predictions"])


# --- labels ------------------------------------------------------------------

NAMES = np.array(["setosa", "versicolor", "virginica"])


def test_string_labels_round_trip(cli, datasets, iris, tmp_path):
    X, y, Xt, yt = iris
    params = dict(hidden_layers=(8,), epochs=5, batch_size=16, lr=0.01, reproducible=True)
    est = MLPClassifier(**params).fit(X, NAMES[y])
    assert np.array_equal(est.classes_, NAMES)
    pred = est.predict(Xt)
    assert set(pred) <= set(NAMES)
    # the names only label the classes: integer labels give the same model
    by_int = MLPClassifier(**params).fit(X, y)
    assert same_bits(est.predict_proba(Xt), by_int.predict_proba(Xt))
    assert np.array_equal(pred, NAMES[by_int.predict(Xt)])

    est.save(str(tmp_path / "m.h5"))
    cli.run("predict", "--model", tmp_path / "m.h5", "--data", datasets / "iris.h5",
            "--out", tmp_path / "p.h5")
    out = read_predictions(tmp_path / "p.h5")
    assert np.array_equal(out["class_name"], pred)
    assert same_bits(out["predictions"], est.predict_proba(Xt))
    cli.run("predict", "--model", tmp_path / "m.h5", "--data", datasets / "iris.h5",
            "--out", tmp_path / "p.csv")
    header = (tmp_path / "p.csv").read_text().splitlines()[0]
    assert header == "class,class_name,p_setosa,p_versicolor,p_virginica"

    back = dtrain.load(str(tmp_path / "m.h5"))
    assert list(back.classes_) == list(NAMES)
    assert np.array_equal(back.predict(Xt), pred)


def test_integer_labels_round_trip(cli, datasets, iris, tmp_path):
    X, y, Xt, yt = iris
    labels = np.array([3, 7, 9])
    est = MLPClassifier(hidden_layers=(8,), epochs=5, batch_size=16, lr=0.01).fit(X, labels[y])
    assert np.array_equal(est.classes_, labels)
    pred = est.predict(Xt)
    assert np.issubdtype(pred.dtype, np.integer) and set(pred) <= {3, 7, 9}
    est.save(str(tmp_path / "m.h5"))
    cli.run("predict", "--model", tmp_path / "m.h5", "--data", datasets / "iris.h5",
            "--out", tmp_path / "p.h5")
    assert np.array_equal(read_predictions(tmp_path / "p.h5")["class_name"],
                          pred.astype(str))
    back = dtrain.load(str(tmp_path / "m.h5"))
    assert np.issubdtype(np.asarray(back.classes_).dtype, np.integer)
    assert np.array_equal(back.classes_, labels)
    assert np.array_equal(back.predict(Xt), pred)


# --- errors ------------------------------------------------------------------

@pytest.fixture
def small():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    return X, y


def fits_afterwards(est, X, y):
    """The failure left the interpreter and the estimator usable."""
    est.set_params(hidden_layers=(4,), epochs=2, lr=0.01, options=None)
    est.fit(X, y)
    assert est.predict(X).shape == (len(X),)


def test_bad_arrays(small):
    X, y = small
    est = MLPClassifier(epochs=2)
    with pytest.raises(ValueError):
        est.fit(X[:, 0], y)                       # 1-D X
    Xn = X.copy()
    Xn[5, 2] = np.nan
    with pytest.raises(ValueError):
        est.fit(Xn, y)
    Xi = X.copy()
    Xi[7, 1] = np.inf
    with pytest.raises(ValueError):
        MLPRegressor(epochs=2).fit(Xi, X[:, 0])
    with pytest.raises((ValueError, TypeError)):
        est.fit(np.array([["a", "b"]] * 10), np.arange(10) % 2)
    with pytest.raises(ValueError):
        est.fit(X, y[:-1])                        # rows disagree
    with pytest.raises(ValueError):
        est.fit(X[:0], y[:0])                     # no rows
    with pytest.raises(ValueError):
        MLPRegressor(epochs=2).fit(X, np.where(y > 0, np.nan, 1.0))
    fits_afterwards(est, X, y)


def test_predict_checks(small):
    from sklearn.exceptions import NotFittedError
    X, y = small
    est = MLPClassifier(hidden_layers=(4,), epochs=2)
    with pytest.raises(NotFittedError):
        est.predict(X)
    est.fit(X, y)
    with pytest.raises(ValueError,
                       match="X has 3 features, but MLPClassifier is expecting 4 features as input"):
        est.predict(X[:, :3])
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError):
        est.predict_proba(Xn)
    assert est.predict(X).shape == (60,)


def test_unknown_option_carries_dtrains_suggestion(small):
    X, y = small
    est = MLPClassifier(epochs=2, options={"learning_rate": 0.1})
    with pytest.raises(ValueError, match=r"learning_rate.*did you mean.*\blr\b") as e:
        est.fit(X, y)
    assert isinstance(e.value, dtrain.UsageError) and isinstance(e.value, dtrain.Error)
    fits_afterwards(est, X, y)


def test_bad_values_carry_dtrains_message(small):
    X, y = small
    est = MLPClassifier(epochs=2, lr=-1)
    with pytest.raises(ValueError, match=r"\blr\b.*-1 is out of range"):
        est.fit(X, y)
    with pytest.raises(ValueError, match="relux"):
        MLPClassifier(epochs=2, hidden_layers="8:relux").fit(X, y)
    with pytest.raises(ValueError, match="schedule"):
        MLPClassifier(epochs=2, options={"schedule": "bogus"}).fit(X, y)
    with pytest.raises(ValueError, match="optimizer"):
        MLPClassifier(epochs=2, optimizer="adamx").fit(X, y)
    fits_afterwards(est, X, y)


def test_divergence_is_an_exception(diabetes_runs):
    X, y = diabetes_runs["X"], diabetes_runs["y"]
    est = MLPRegressor(hidden_layers=(16,), optimizer="sgd", lr=1000, epochs=3)
    with pytest.raises(FloatingPointError, match="diverged") as e:
        est.fit(X, y)
    assert isinstance(e.value, dtrain.DivergedError) and isinstance(e.value, dtrain.Error)
    est.set_params(lr=0.001).fit(X, y)
    assert np.all(np.isfinite(est.predict(X)))


def test_file_errors(tmp_path, small):
    X, y = small
    missing = tmp_path / "missing.h5"
    with pytest.raises((OSError, ValueError), match="missing.h5") as e:
        dtrain.load(str(missing))
    assert isinstance(e.value, dtrain.Error)
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an HDF5 file\n" * 100)
    with pytest.raises((OSError, ValueError), match="junk.h5"):
        dtrain.load(str(junk))
    est = MLPClassifier(hidden_layers=(4,), epochs=2).fit(X, y)
    with pytest.raises((OSError, ValueError)):
        est.save(str(tmp_path / "no-such-dir" / "m.h5"))
    # never over a directory
    (tmp_path / "adir").mkdir()
    with pytest.raises((OSError, ValueError)):
        est.save(str(tmp_path / "adir"))
    assert (tmp_path / "adir").is_dir()


# --- Ctrl-C, other signals, callbacks ------------------------------------------

def test_ctrl_c_stops_fit_after_checkpoint(digits, tmp_path, cli):
    X, y, Xt, yt = digits
    seen = []
    python_handler_calls = []

    def handler(signum, frame):
        python_handler_calls.append(signum)
        raise KeyboardInterrupt

    def cb(info):
        seen.append(info["epoch"])
        if len(seen) == 2:
            os.kill(os.getpid(), signal.SIGINT)

    ckpt = tmp_path / "ckpt"
    est = MLPClassifier(hidden_layers=(16,), epochs=30, checkpoint_dir=str(ckpt), callback=cb)
    old = signal.signal(signal.SIGINT, handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            est.fit(X, y)
        # dtrain took the signal (and stopped after the step), not Python's handler
        assert python_handler_calls == []
        assert len(seen) <= 3
        # the program's own handler is back once fit returns
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(2)
        assert python_handler_calls == [signal.SIGINT]
    finally:
        signal.signal(signal.SIGINT, old)
    latest = ckpt / "latest.h5"
    assert latest.exists()
    assert 2 <= len(history_column(latest, "train_loss")) < 30
    cli.run("inspect", latest)
    # a checkpoint is a model file too
    assert dtrain.load(str(latest)).predict(Xt[:5]).shape == (5,)
    # the stop was consumed: the next fit trains to the end
    est.set_params(callback=None, checkpoint_dir=None, epochs=3)
    est.fit(X, y)
    assert est.n_iter_ == 3


def test_ctrl_c_then_resume_gives_the_uninterrupted_model(digits, tmp_path):
    """options={"resume": True} is --resume alone (the newest checkpoint): the
    fit stopped by SIGINT and resumed ends at the model of a fit never stopped,
    bit for bit; resume False is a fresh start."""
    X, y, Xt, yt = digits

    def cb(info):
        if info["epoch"] == 2:
            os.kill(os.getpid(), signal.SIGINT)

    params = dict(hidden_layers=(16,), epochs=5, checkpoint_dir=str(tmp_path / "ckpt"))
    with pytest.raises(KeyboardInterrupt):
        MLPClassifier(callback=cb, **params).fit(X, y)
    resumed = MLPClassifier(options={"resume": True}, **params).fit(X, y)
    whole = MLPClassifier(hidden_layers=(16,), epochs=5).fit(X, y)
    assert resumed.n_iter_ == 5
    assert np.array_equal(resumed.predict_proba(Xt), whole.predict_proba(Xt))
    assert resumed.loss_curve_ == whole.loss_curve_
    fresh = MLPClassifier(options={"resume": False}, hidden_layers=(16,), epochs=5,
                          checkpoint_dir=str(tmp_path / "fresh")).fit(X, y)
    assert np.array_equal(fresh.predict_proba(Xt), whole.predict_proba(Xt))


def test_other_signal_raises_stopped_error(small):
    X, y = small

    def cb(info):
        if info["epoch"] == 2:
            os.kill(os.getpid(), signal.SIGUSR1)

    est = MLPClassifier(hidden_layers=(4,), epochs=30, batch_size=8, callback=cb)
    python_handler_calls = []
    # SIGUSR1's default action ends the process: a Python handler in its place
    # shows it if dtrain did not take the signal
    old = signal.signal(signal.SIGUSR1, lambda signum, frame: python_handler_calls.append(signum))
    try:
        with pytest.raises(dtrain.StoppedError) as e:
            est.fit(X, y)
        assert python_handler_calls == []
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert isinstance(e.value, RuntimeError) and isinstance(e.value, dtrain.Error)
    assert int(e.value.signal) == int(signal.SIGUSR1)
    assert not e.value.checkpointed
    est.set_params(callback=None, epochs=2)
    est.fit(X, y)
    assert est.n_iter_ == 2


def test_callback(digits):
    X, y, Xt, yt = digits
    infos = []

    def cb(info):
        infos.append(dict(info))
        return info["epoch"] >= 2          # truthy: stop

    est = MLPClassifier(hidden_layers=(16,), epochs=10, callback=cb).fit(X, y)
    assert [i["epoch"] for i in infos] == [1, 2]
    assert {"epoch", "step", "train_loss", "eval_loss", "eval_metric", "lr",
            "seconds"} <= set(infos[0])
    assert est.n_iter_ == 2 and len(est.loss_curve_) == 2
    assert [i["train_loss"] for i in infos] == list(est.loss_curve_)
    assert infos[1]["step"] == 2 * 45           # 1438 rows in batches of 32

    class Boom(Exception):
        pass

    def bad(info):
        raise Boom("from the callback")

    with pytest.raises(Boom, match="from the callback"):
        MLPClassifier(hidden_layers=(16,), epochs=10, callback=bad).fit(X, y)


def test_numpy_keeps_its_subnormals(digits):
    """dtrain computes with flush-to-zero ("denormals" flush, the default) but
    gives the thread back as it found it: numpy on the same thread computes
    IEEE subnormals after fit and predict and inside a callback (1e-20 *
    1e-20 = 1e-40 in float32, below its smallest normal 1.18e-38; 0 under
    FTZ)."""
    X, y, Xt, yt = digits
    tiny = np.float32(1e-20)
    seen = []

    def cb(info):
        seen.append(tiny * tiny)
        return False

    est = MLPClassifier(hidden_layers=(16,), epochs=2, callback=cb).fit(X, y)
    assert tiny * tiny > 0
    est.predict(Xt)
    assert tiny * tiny > 0
    assert len(seen) == 2 and all(v > 0 for v in seen)


def test_loaded_model_saved_again_keeps_its_denormals(tmp_path):
    """A model trained with "denormals" keep predicts with IEEE subnormals;
    loaded and saved again (or pickled), it still does.  The model is made so
    that its hidden unit is subnormal: input 1e-20 (no scaling) times weight
    1e-20 = 1e-40, below float32's smallest normal 1.18e-38, then times
    1e30 in the output layer = 1e-10; flushed to zero, the prediction is the
    bias, 0."""
    import h5py
    X = np.array([[0.0], [1.0], [2.0], [3.0]], dtype=np.float32)
    est = MLPRegressor(hidden_layers=(1,), activation="identity", epochs=1, batch_size=4,
                       options={"denormals": "keep"}).fit(X, X[:, 0])
    a, b = str(tmp_path / "a.h5"), str(tmp_path / "b.h5")
    est.save(a)
    with h5py.File(a, "r+") as f:
        f["/model/layer0/weight"][...] = [[1e-20]]
        f["/model/layer1/weight"][...] = [[1e30]]
        for g in ("/normalization", "/target_normalization"):
            if g in f:
                f[g + "/shift"][...] = 0
                f[g + "/scale"][...] = 1
        for l in ("/model/layer0/bias", "/model/layer1/bias"):
            f[l][...] = 0
    q = np.array([[1e-20]], dtype=np.float32)
    first = dtrain.load(a)
    kept = first.predict(q)
    assert 0.5e-10 < kept[0] < 2e-10             # 1e-40 survived as a subnormal
    first.save(b)
    assert np.array_equal(dtrain.load(b).predict(q), kept)
    with h5py.File(b, "r") as f:
        assert f["/config"].attrs["denormals"] in ("keep", b"keep")
    assert np.array_equal(pickle.loads(pickle.dumps(dtrain.load(b))).predict(q), kept)
    # the default mode flushes: the same weights predict 0
    with h5py.File(a, "r+") as f:
        f["/config"].attrs["denormals"] = "flush"
    assert dtrain.load(a).predict(q)[0] == 0


def test_verbose_and_warnings(digits, capfd):
    from sklearn.exceptions import ConvergenceWarning
    X, y, Xt, yt = digits
    with pytest.warns(ConvergenceWarning, match="not converged"):
        MLPClassifier(hidden_layers=(16,), epochs=4).fit(X, y)
    out, err = capfd.readouterr()
    assert out == "" and err == ""              # quiet unless verbose
    MLPClassifier(hidden_layers=(16,), epochs=4, verbose=True).fit(X, y)
    out, err = capfd.readouterr()
    assert "64-16-10" in out + err              # dtrain's model line


# --- scikit-learn composition ------------------------------------------------------

def test_params():
    from sklearn.base import clone
    defaults = dict(hidden_layers=(100,), activation="relu", optimizer="adam", lr=None,
                    epochs=50, batch_size=32, precision="fp32", reproducible=False, seed=1,
                    valid_split=0.0, early_stopping=0, checkpoint_dir=None, threads=1,
                    verbose=False, callback=None, comm=None, options=None)
    for cls in (MLPClassifier, MLPRegressor):
        p = cls().get_params()
        for k, v in defaults.items():
            assert k in p and p[k] == v, (cls.__name__, k, p.get(k))
    est = MLPClassifier(lr=0.1, options={"schedule": "cosine"})
    c = clone(est).set_params(epochs=7)
    assert c.get_params()["lr"] == 0.1 and c.get_params()["epochs"] == 7
    assert c.get_params()["options"] == {"schedule": "cosine"}
    assert est.get_params()["epochs"] == 50


def test_pipeline_cross_val_and_grid_search(iris):
    from sklearn.model_selection import GridSearchCV, cross_val_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    X, y, Xt, yt = iris
    X = X.astype(np.float64) * 10 + 3              # something for the scaler to do
    Xt = Xt.astype(np.float64) * 10 + 3
    params = dict(hidden_layers=(8,), epochs=20, batch_size=16, lr=0.05, reproducible=True)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", MLPClassifier(**params))])
    pipe.fit(X, y)
    scaler = StandardScaler().fit(X)
    direct = MLPClassifier(**params).fit(scaler.transform(X), y)
    assert same_bits(pipe.predict_proba(Xt), direct.predict_proba(scaler.transform(Xt)))
    assert pipe.score(Xt, yt) > 0.8

    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.7)

    # a rate that learns nothing in 20 epochs loses to one that does
    grid = GridSearchCV(pipe, {"clf__lr": [1e-6, 0.05]}, cv=3).fit(X, y)
    assert grid.best_params_ == {"clf__lr": 0.05}
    low, high = grid.cv_results_["mean_test_score"]
    assert high > 0.7 and low < high
    assert grid.score(Xt, yt) == pipe.score(Xt, yt)   # the refit is the same model


def test_dataframe_in(iris):
    """A pandas frame is X as its values are: the same model, bit for bit, and
    its column names are kept (feature_names_in_) and checked at predict."""
    pd = pytest.importorskip("pandas")
    X, y, Xt, yt = iris
    cols = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    params = dict(hidden_layers=(8,), epochs=5)
    framed = MLPClassifier(**params).fit(pd.DataFrame(X, columns=cols), pd.Series(y))
    plain = MLPClassifier(**params).fit(X, y)
    assert list(framed.feature_names_in_) == cols
    assert not hasattr(plain, "feature_names_in_")
    assert same_bits(framed.predict_proba(pd.DataFrame(Xt, columns=cols)),
                     plain.predict_proba(Xt))
    with pytest.raises(ValueError, match="feature names"):
        framed.predict(pd.DataFrame(Xt, columns=cols[::-1]))


def test_pickle_round_trip(digits_runs, digits, diabetes_runs, iris):
    X, y, Xt, yt = digits
    est = digits_runs["est"]
    back = pickle.loads(pickle.dumps(est))
    assert same_bits(back.predict_proba(Xt), est.predict_proba(Xt))
    assert np.array_equal(back.classes_, est.classes_)
    assert back.get_params()["hidden_layers"] == est.get_params()["hidden_layers"]
    reg = diabetes_runs["est"]
    rback = pickle.loads(pickle.dumps(reg))
    assert same_bits(rback.predict(diabetes_runs["Xt"]), reg.predict(diabetes_runs["Xt"]))
    Xi, yi, Xit, yit = iris
    named = MLPClassifier(hidden_layers=(4,), epochs=2).fit(Xi, NAMES[yi])
    nback = pickle.loads(pickle.dumps(named))
    assert np.array_equal(nback.predict(Xit), named.predict(Xit))
    assert list(nback.classes_) == list(NAMES)
    # an unfitted estimator pickles too
    assert pickle.loads(pickle.dumps(MLPClassifier(lr=0.5))).get_params()["lr"] == 0.5


# --- data files ----------------------------------------------------------------------

def test_read_data_matches_file(datasets):
    raw = h5_tree(datasets / "digits.h5", ["train", "test"])
    X, y = dtrain.read_data(str(datasets / "digits.h5"))
    assert np.array_equal(X, raw["train/X"]) and np.array_equal(y, raw["train/y"])
    Xt, yt = dtrain.read_data(str(datasets / "digits.h5"), group="test")
    assert np.array_equal(Xt, raw["test/X"]) and np.array_equal(yt, raw["test/y"])


def test_write_data_for_the_cli(cli, iris, tmp_path):
    X, y, Xt, yt = iris
    path = tmp_path / "named.h5"
    dtrain.write_data(str(path), X, NAMES[y], X_test=Xt, y_test=NAMES[yt])
    X2, y2 = dtrain.read_data(str(path))
    assert np.array_equal(X2, X) and list(y2) == list(NAMES[y])
    Xt2, yt2 = dtrain.read_data(str(path), group="test")
    assert np.array_equal(Xt2, Xt) and list(yt2) == list(NAMES[yt])
    # the file's layout: /classes names the class numbers in /train/y
    raw = h5_tree(path, ["train", "test"])
    assert np.array_equal(raw["train/y"], y) and np.array_equal(raw["test/y"], yt)
    import h5py
    with h5py.File(path, "r") as f:
        assert list(f["classes"].asstr()[()]) == list(NAMES)
    # the command line trains on it and names the classes
    cli.run("train", "--data", path, "--layers", "4:relu", "--epochs", 2, "--save",
            tmp_path / "m.h5")
    cli.run("predict", "--model", tmp_path / "m.h5", "--data", path, "--out", tmp_path / "p.csv")
    assert (tmp_path / "p.csv").read_text().startswith("class,class_name,p_setosa,")
    # no labels: new rows to predict
    path3 = tmp_path / "new.h5"
    dtrain.write_data(str(path3), Xt, group="test")
    Xn, yn = dtrain.read_data(str(path3), group="test")
    assert yn is None and np.array_equal(Xn, Xt)


def test_write_data_replaces_only_its_own_files(iris, tmp_path):
    X, y, Xt, yt = iris
    inp = tmp_path / "input.h5"
    dtrain.write_data(str(inp), X, y)
    before = inp.read_bytes()
    (tmp_path / "adir").mkdir()
    with pytest.raises((OSError, ValueError)):
        dtrain.write_data(str(tmp_path / "adir"), X, y)
    assert (tmp_path / "adir").is_dir()
    link = tmp_path / "link.h5"
    link.symlink_to(inp)
    try:
        dtrain.write_data(str(link), Xt, yt)
    except (OSError, ValueError):
        pass
    assert inp.read_bytes() == before              # the link's target is untouched
    # a regular file of ours is replaced
    dtrain.write_data(str(inp), Xt, yt)
    assert np.array_equal(dtrain.read_data(str(inp))[0], Xt)
