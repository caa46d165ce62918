"""PCA against numpy's singular value decomposition, whitening, saving and bad input."""
import numpy as np
import pytest

from nnfast import PCA, load_model
from nnfast.datasets import load_digits_sample


def _data(n=120, d=10, seed=0):
    rng = np.random.default_rng(seed)
    # Decreasing scales along random directions, so the components are well separated.
    return rng.normal(size=(n, d)) @ np.diag(np.geomspace(5, 0.1, d)) @ np.linalg.qr(
        rng.normal(size=(d, d)))[0] + rng.normal(size=d)


@pytest.mark.parametrize("shape", [(120, 10), (8, 30)])
def test_components_and_variances_match_numpys_svd(shape):
    X = _data(*shape)
    centred = X - X.mean(axis=0)
    _, S, Vt = np.linalg.svd(centred, full_matrices=False)
    k = min(shape)
    pca = PCA().fit(X)
    assert pca.n_components_ == k and pca.components_.shape == (k, shape[1])
    np.testing.assert_allclose(pca.singular_values_, S, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(pca.explained_variance_, S ** 2 / (shape[0] - 1), rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(pca.explained_variance_ratio_, S ** 2 / (S ** 2).sum(), rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(pca.mean_, X.mean(axis=0), rtol=1e-12)
    # The same axes up to sign, and the sign is the documented one.
    rank = int(np.sum(S > S[0] * 1e-10))
    signs = np.sign(np.sum(pca.components_[:rank] * Vt[:rank], axis=1))
    np.testing.assert_allclose(pca.components_[:rank], Vt[:rank] * signs[:, None], atol=1e-9)
    largest = pca.components_[np.arange(k), np.argmax(np.abs(pca.components_), axis=1)]
    assert np.all(largest > 0)
    np.testing.assert_allclose(pca.components_ @ pca.components_.T, np.eye(k), atol=1e-10)


def test_transform_projects_and_full_rank_inverse_recovers_the_data():
    X = _data()
    pca = PCA().fit(X)
    np.testing.assert_allclose(pca.transform(X), (X - X.mean(axis=0)) @ pca.components_.T,
                               atol=1e-10)
    np.testing.assert_allclose(pca.fit_transform(X), pca.transform(X), atol=1e-10)
    np.testing.assert_allclose(pca.inverse_transform(pca.transform(X)), X, atol=1e-10)


def test_fewer_components_reconstruct_with_the_discarded_variance():
    X = _data()
    pca = PCA(n_components=3).fit(X)
    full = PCA().fit(X)
    np.testing.assert_allclose(pca.components_, full.components_[:3], atol=1e-12)
    residual = X - pca.inverse_transform(pca.transform(X))
    # The squared residual is the variance of the dropped components.
    np.testing.assert_allclose(np.sum(residual ** 2) / (len(X) - 1),
                               full.explained_variance_[3:].sum(), rtol=1e-9)
    np.testing.assert_allclose(pca.reconstruction_error(X), np.mean(residual ** 2, axis=1),
                               rtol=1e-9)


def test_a_fraction_keeps_the_fewest_components_explaining_more_than_it():
    X = _data()
    ratios = np.cumsum(PCA().fit(X).explained_variance_ratio_)
    for fraction in (0.5, 0.9, 0.99):
        pca = PCA(n_components=fraction).fit(X)
        k = pca.n_components_
        assert ratios[k - 1] > fraction and (k == 1 or ratios[k - 2] <= fraction)


def test_whitened_projections_have_unit_variance_and_invert():
    X = _data()
    pca = PCA(n_components=4, whiten=True).fit(X)
    Z = pca.transform(X)
    np.testing.assert_allclose(Z.var(axis=0, ddof=1), np.ones(4), rtol=1e-9)
    np.testing.assert_allclose(pca.fit_transform(X), Z, atol=1e-10)
    np.testing.assert_allclose(pca.inverse_transform(Z),
                               PCA(n_components=4).fit(X).inverse_transform(
                                   PCA(n_components=4).fit(X).transform(X)), atol=1e-10)


def test_whitening_leaves_components_of_zero_variance_unscaled():
    X = _data(n=5, d=8)  # rank 4 after centring: the 5th component has no variance
    Z = PCA(whiten=True).fit(X).transform(X)
    assert np.isfinite(Z).all()
    np.testing.assert_allclose(Z[:, :4].var(axis=0, ddof=1), np.ones(4), rtol=1e-8)
    assert np.abs(Z[:, 4]).max() < 1e-10


def test_digits_variance_is_concentrated_in_few_components():
    X = load_digits_sample(as_float=True, flatten=True)[0][::4]
    pca = PCA(n_components=50).fit(X)
    # 784 pixels, but the first 50 directions hold most of the variance of the digits.
    assert 0.75 < pca.explained_variance_ratio_.sum() < 0.95
    assert np.all(np.diff(pca.explained_variance_) <= 0)


def test_save_and_load_reproduce_the_projections(tmp_path):
    X = _data()
    for pca in (PCA(n_components=3, whiten=True).fit(X), PCA(0.9).fit(X), PCA(2)):
        path = tmp_path / "pca.nnf"
        pca.save(path)
        loaded = load_model(path)
        assert loaded.get_params() == pca.get_params()
        if hasattr(pca, "components_"):
            np.testing.assert_array_equal(loaded.transform(X), pca.transform(X))
            np.testing.assert_array_equal(loaded.explained_variance_ratio_,
                                          pca.explained_variance_ratio_)
            Z = pca.transform(X)
            np.testing.assert_array_equal(loaded.inverse_transform(Z), pca.inverse_transform(Z))
        else:
            assert not hasattr(loaded, "components_")


@pytest.mark.parametrize("kwargs, X, error, match", [
    ({"n_components": 11}, _data(), ValueError, r"at most min\(n_samples, n_features\) = 10"),
    ({"n_components": 0}, _data(), ValueError, "at least 1"),
    ({"n_components": 1.5}, _data(), ValueError, r"in \(0, 1\)"),
    ({"n_components": "all"}, _data(), TypeError, "n_components"),
    ({"whiten": "yes"}, _data(), TypeError, "whiten"),
    ({}, _data()[:1], ValueError, "at least 2 sample"),
    ({}, np.where(_data() > 3, np.nan, _data()), ValueError, "NaN or infinite"),
    ({}, _data()[:, 0], ValueError, "2-D array"),
])
def test_bad_parameters_and_input_are_refused(kwargs, X, error, match):
    with pytest.raises(error, match=match):
        PCA(**kwargs).fit(X)


def test_shape_mismatch_after_fitting_is_refused():
    pca = PCA(n_components=3).fit(_data())
    with pytest.raises(ValueError, match="X has 9 features, but the model expects 10"):
        pca.transform(_data(d=9))
    with pytest.raises(ValueError, match="Z has 4 columns, but the model has 3 components"):
        pca.inverse_transform(np.zeros((2, 4)))
