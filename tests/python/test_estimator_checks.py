"""scikit-learn's own estimator checks on dtrain's estimators, with their
defaults (50 epochs of one ReLU layer of 100, adam, batch 32).  Checks that
cannot apply are marked in the estimators' tags (_more_tags()['_xfail_checks'],
each with its reason) and show as xfailed."""

from sklearn.utils.estimator_checks import parametrize_with_checks

import dtrain


@parametrize_with_checks([dtrain.MLPClassifier(), dtrain.MLPRegressor()])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
