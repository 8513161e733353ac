import numpy as np
import pytest
import pickle

from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks

from classifier.features import EMAIL, HANDLE, MONEY, NUMBER, URL, AskCues, Normaliser, Zoner, normalise_tokens


def test_placeholders_replace_links_addresses_handles_money_and_numbers():
    tokens = normalise_tokens("Hi @sam_b, mail ana@example.org or see https://example.com/x?a=1 for £50 by 2026")
    assert URL in tokens and EMAIL in tokens and HANDLE in tokens and MONEY in tokens and NUMBER in tokens
    assert "hi" in tokens  # lower-cased
    assert not any("example" in t for t in tokens)


def test_normaliser_joins_tokens_with_single_spaces():
    out = Normaliser().fit(["x"]).transform(["Could you  RT this?\n\nThanks!!"])
    assert out == ["could you rt this ? thanks ! !"]


def test_ask_cues_count_request_phrasing_and_links():
    cues = AskCues().fit(["x"])
    normalised = Normaliser().fit(["x"]).transform(
        ["Could you please share this with your readers? https://example.com/launch", "lovely to see you yesterday ."])
    matrix = cues.transform(normalised).toarray()
    names = list(cues.get_feature_names_out())
    ask, chat = matrix
    for cue in ("cue:modal_request", "cue:please_verb", "cue:links", "cue:amplify", "cue:questions"):
        assert ask[names.index(cue)] > 0, cue
        assert chat[names.index(cue)] == 0, cue


def test_zoner_drops_the_quoted_part():
    out = Zoner().fit(["x"]).transform(["Re: pitch\nNo thanks, not for us.\n\nOn Mon, 1 Jun 2026, Bo wrote:\n> buy SEO"])
    assert out == ["Re: pitch\nNo thanks, not for us."]


def test_transformers_accept_a_one_column_array():
    column = np.array([["Could you help?"], ["no"]], dtype=object)
    assert Normaliser().fit(column).transform(column) == ["could you help ?", "no"]


# scikit-learn's common checks feed numeric matrices, so parametrize_with_checks skips estimators that
# take text (as it skips its own CountVectorizer). The API-contract checks below need no input data
# and do run; the data contract is checked by the tests after them.
API_CHECKS = [
    estimator_checks.check_no_attributes_set_in_init,
    estimator_checks.check_parameters_default_constructible,
    estimator_checks.check_get_params_invariance,
    estimator_checks.check_set_params,
    estimator_checks.check_estimator_cloneable,
    estimator_checks.check_estimator_repr,
    estimator_checks.check_mixin_order,
    estimator_checks.check_valid_tag_types,
]
TRANSFORMERS = [Zoner, Normaliser, AskCues]


@pytest.mark.parametrize("make", TRANSFORMERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("check", API_CHECKS, ids=lambda c: c.__name__)
def test_sklearn_api_contract(make, check):
    check(make.__name__, make())


TEXTS = ["Could you RT our launch? https://example.com", "lovely to see you", "", "£5 to sponsor my run x"]


@pytest.mark.parametrize("make", TRANSFORMERS, ids=lambda c: c.__name__)
def test_fit_returns_self_and_transform_needs_fit(make):
    with pytest.raises(NotFittedError):
        make().transform(TEXTS)
    estimator = make()
    assert estimator.fit(TEXTS) is estimator


@pytest.mark.parametrize("make", TRANSFORMERS, ids=lambda c: c.__name__)
def test_output_is_row_aligned_order_invariant_and_survives_clone_and_pickle(make):
    fitted = make().fit(TEXTS)
    out = _rows(fitted.transform(TEXTS))
    assert len(out) == len(TEXTS)
    assert _rows(fitted.transform(TEXTS[::-1])) == out[::-1]
    assert _rows(fitted.transform(TEXTS[1:2])) == out[1:2]
    assert _rows(pickle.loads(pickle.dumps(fitted)).transform(TEXTS)) == out
    assert _rows(clone(fitted).fit(TEXTS).transform(TEXTS)) == out


def _rows(output):
    return [list(row) for row in output.toarray()] if hasattr(output, "toarray") else list(output)
