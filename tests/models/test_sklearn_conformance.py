"""scikit-learn's estimator checks and model selection tools on every nnfast estimator.

Each check of ``sklearn.utils.estimator_checks`` is its own test, named after
the estimator and the check; every one must pass.
"""
import functools
import pickle
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import DataConversionWarning as SklearnDataConversionWarning
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.utils.estimator_checks import estimator_checks_generator

import nnfast
from nnfast import CNNClassifier, MLPClassifier, MLPRegressor
from nnfast.models import PCA, VAE, Autoencoder, BernoulliRBM, Perceptron, StackedAutoencoder

#: The instances checked, by label: small enough for the whole file to run in
#: seconds, trained enough to pass the checks' accuracy thresholds.
ESTIMATORS = {
    "MLPClassifier": MLPClassifier(hidden_layer_sizes=(16,), learning_rate=0.01, epochs=50,
                                   random_state=0),
    "MLPRegressor": MLPRegressor(hidden_layer_sizes=(16,), learning_rate=0.01, epochs=50,
                                 random_state=0),
    "MLPRegressor-float64": MLPRegressor(hidden_layer_sizes=(16,), learning_rate=0.01, epochs=50,
                                         dtype="float64", random_state=0),
    "Perceptron": Perceptron(random_state=0),
    "BernoulliRBM": BernoulliRBM(n_hidden=4, epochs=2, random_state=0),
    "CNNClassifier": CNNClassifier(filters=(6,), dense_units=16, learning_rate=0.01, epochs=30,
                                   batch_size=32, random_state=0),
    "PCA": PCA(),
    "PCA-whiten": PCA(n_components=2, whiten=True),
    "Autoencoder": Autoencoder(hidden_layer_sizes=(8,), latent_dim=2, epochs=5, random_state=0),
    "Autoencoder-denoising-sparse": Autoencoder(hidden_layer_sizes=(8,), latent_dim=2, noise=0.2,
                                                sparsity=1e-3, tied_weights=True, epochs=5,
                                                random_state=0),
    "StackedAutoencoder": StackedAutoencoder(hidden_layer_sizes=(2, 1), epochs=3, random_state=0),
    # The checks' data leave [0, 1]: a Gaussian decoder takes any values.  Some are centred
    # at 100, where the first log-variances exceed float32's exponent range (88).
    "VAE": VAE(hidden_layer_sizes=(8,), latent_dim=2, loss="mse", output_activation="identity",
               epochs=5, dtype="float64", random_state=0),
}

def _check_id(check):
    """``check_name`` or ``check_name(keyword=value, ...)`` for a check from scikit-learn."""
    func, keywords = check, {}
    if isinstance(check, functools.partial):
        func, keywords = check.func, check.keywords
    while hasattr(func, "__wrapped__"):
        func = func.__wrapped__
    arguments = ", ".join(f"{key}={value!r}" for key, value in sorted(keywords.items()))
    return f"{func.__name__}({arguments})" if arguments else func.__name__


def _checks(label):
    """``(estimator, check, check id)`` for every check scikit-learn runs on ``ESTIMATORS[label]``."""
    with warnings.catch_warnings():
        # nnfast's estimators do not derive from scikit-learn's base class
        # (nnfast does not depend on scikit-learn); its warning about that
        # says nothing about the estimators.
        warnings.filterwarnings("ignore", message=".*does not inherit from `sklearn.base",
                                category=UserWarning)
        checks = list(estimator_checks_generator(ESTIMATORS[label], mark=None))
    return [(estimator, check, _check_id(check)) for estimator, check in checks]


@pytest.mark.parametrize("estimator, check", [
    pytest.param(estimator, check, id=f"{label}-{check_id}")
    for label in ESTIMATORS for estimator, check, check_id in _checks(label)])
def test_sklearn_check(estimator, check):
    with warnings.catch_warnings():
        # The checks fit the RBM on data outside [0, 1], which it takes with
        # a warning (its visible units are binary).
        warnings.filterwarnings("ignore", message=".*BernoulliRBM's visible units are binary",
                                category=UserWarning)
        check(estimator)


# ---------------------------------------------------------- model selection
def _binary_patterns(n_samples=240, flip=0.05, seed=0):
    """Noisy copies of four 16-pixel binary patterns, in [0, 1]."""
    rng = np.random.default_rng(seed)
    prototypes = np.array([np.repeat(bits, 4) for bits in
                           ([1, 0, 0, 1], [0, 1, 1, 0], [1, 1, 0, 0], [0, 0, 1, 1])], np.float64)
    X = prototypes[rng.integers(0, 4, n_samples)]
    return np.abs(X - (rng.random(X.shape) < flip))


def _case(label):
    """(estimator, scaler, parameter grid, X, y, lowest acceptable score)."""
    X_clf, y_clf = make_classification(n_samples=180, n_features=6, n_informative=4,
                                       n_redundant=0, n_clusters_per_class=1, class_sep=1.5,
                                       random_state=0)
    if label == "MLPClassifier":
        return (MLPClassifier(hidden_layer_sizes=(16,), learning_rate=0.01, epochs=30,
                              random_state=0),
                StandardScaler(), {"hidden_layer_sizes": [(4,), (16,)]}, X_clf, y_clf, 0.8)
    if label == "MLPRegressor":
        X, y = make_regression(n_samples=180, n_features=5, noise=5.0, random_state=0)
        return (MLPRegressor(hidden_layer_sizes=(16,), learning_rate=0.01, epochs=60,
                             random_state=0),
                StandardScaler(), {"learning_rate": [0.003, 0.01]}, X, y / y.std(), 0.8)
    if label == "CNNClassifier":
        # Rows of 6 values are one-row images of 6 pixels for the convolutions.
        return (CNNClassifier(filters=(8,), dense_units=16, learning_rate=0.01, epochs=20,
                              batch_size=16, random_state=0),
                StandardScaler(), {"filters": [(4,), (8,)]}, X_clf, y_clf, 0.8)
    if label == "Perceptron":
        return (Perceptron(max_epochs=20, random_state=0), StandardScaler(),
                {"rule": ["online", "batch"]}, X_clf, y_clf, 0.8)
    # The pseudo-log-likelihood of 16 pixels of which 5% are noise: a model
    # that only knows each pixel's mean scores -16 log 2 = -11.1.
    return (BernoulliRBM(n_hidden=8, learning_rate=0.1, epochs=30, random_state=0),
            MinMaxScaler(clip=True), {"n_hidden": [2, 8]}, _binary_patterns(), None, -8.0)


MODEL_SELECTION_LABELS = ["MLPClassifier", "MLPRegressor", "Perceptron", "BernoulliRBM",
                          "CNNClassifier"]


@pytest.mark.parametrize("label", MODEL_SELECTION_LABELS)
def test_grid_search_over_a_pipeline_in_two_processes(label):
    estimator, scaler, grid, X, y, lowest = _case(label)
    pipe = Pipeline([("scale", scaler), ("model", estimator)])
    search = GridSearchCV(pipe, {f"model__{key}": values for key, values in grid.items()},
                          cv=3, n_jobs=2, error_score="raise").fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_score_ > lowest
    best = search.best_estimator_.named_steps["model"]
    assert type(best) is type(estimator)
    key, values = next(iter(grid.items()))
    assert best.get_params()[key] in values
    assert best.n_features_in_ == X.shape[1]


@pytest.mark.parametrize("label", MODEL_SELECTION_LABELS)
def test_cross_val_score_and_pipeline_score(label):
    estimator, scaler, _, X, y, lowest = _case(label)
    pipe = Pipeline([("scale", scaler), ("model", estimator)])
    scores = cross_val_score(pipe, X, y, cv=3, error_score="raise")
    assert scores.shape == (3,) and np.all(scores > lowest)
    pipe.fit(X[:120], None if y is None else y[:120])
    test_y = None if y is None else y[120:]
    score = pipe.score(X[120:], test_y)
    scaled = pipe.named_steps["scale"].transform(X[120:])
    assert score == pipe.named_steps["model"].score(scaled, test_y)
    assert score > lowest


def test_rbm_score_is_repeatable_and_beats_the_untrained_model():
    X = _binary_patterns()
    untrained = BernoulliRBM(n_hidden=8, epochs=0, random_state=0).fit(X)
    trained = BernoulliRBM(n_hidden=8, learning_rate=0.1, epochs=30, random_state=0).fit(X)
    state = trained._sampling_rng.bit_generator.state
    assert trained.score(X) == trained.score(X)
    assert trained._sampling_rng.bit_generator.state == state
    assert trained.score(X) > untrained.score(X) + 2


@pytest.mark.parametrize("label", MODEL_SELECTION_LABELS)
def test_clone_copies_parameters_and_drops_fitted_state(label):
    estimator, _, grid, X, y, _ = _case(label)
    key, values = next(iter(grid.items()))
    estimator.set_params(**{key: values[0]})
    fitted = estimator.fit(MinMaxScaler().fit_transform(X), y)
    copy = clone(fitted)
    assert copy is not fitted and type(copy) is type(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "n_features_in_")
    with pytest.raises(SklearnNotFittedError):
        copy.transform(X) if label == "BernoulliRBM" else copy.predict(X)


# ------------------------------------------------ pickling and scikit-learn's types
@pytest.mark.parametrize("label", MODEL_SELECTION_LABELS)
def test_a_pickled_model_gives_exactly_the_same_outputs(label):
    estimator, _, _, X, y, _ = _case(label)
    X = MinMaxScaler().fit_transform(X)
    model = estimator.fit(X, y)
    again = pickle.loads(pickle.dumps(model))
    for method in ("predict", "predict_proba", "decision_function", "transform"):
        if hasattr(model, method):
            np.testing.assert_array_equal(getattr(again, method)(X), getattr(model, method)(X))


def test_not_fitted_error_is_also_sklearns_and_survives_pickling():
    with pytest.raises(SklearnNotFittedError) as info:
        Perceptron().predict([[0.0, 1.0]])
    assert isinstance(info.value, nnfast.NotFittedError)
    assert isinstance(info.value, ValueError) and isinstance(info.value, AttributeError)
    again = pickle.loads(pickle.dumps(info.value))
    assert isinstance(again, SklearnNotFittedError) and isinstance(again, nnfast.NotFittedError)
    assert again.args == info.value.args


def test_a_column_of_labels_warns_with_sklearns_category():
    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 0.5], [1.0, 0.2]])
    y = np.array([[0], [1], [0], [1]])
    with pytest.warns(SklearnDataConversionWarning, match="A column-vector y was passed"):
        model = Perceptron(random_state=0).fit(X, y)
    np.testing.assert_array_equal(model.predict(X), y.ravel())


def test_nnfast_works_without_importing_sklearn():
    code = (
        "import sys, warnings\n"
        "import numpy as np\n"
        "from nnfast import MLPClassifier, NotFittedError\n"
        "from nnfast._validation import DataConversionWarning\n"
        "X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 5, dtype=float)\n"
        "try:\n"
        "    MLPClassifier().predict(X)\n"
        "except NotFittedError as exc:\n"
        "    assert type(exc) is NotFittedError\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    MLPClassifier(epochs=2).fit(X, X[:, :1] == X[:, 1:])\n"
        "assert [w.category for w in caught] == [DataConversionWarning]\n"
        "assert not any(name.split('.')[0] == 'sklearn' for name in sys.modules)\n"
    )
    # Outside the checkout, so that the installed package (compiled) is imported.
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120,
                   cwd=tempfile.gettempdir())
