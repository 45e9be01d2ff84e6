"""Project-specific rules on top of the audit's own verdicts, with the `singaudit` fixture."""

import pytest


@pytest.mark.singaudit("audits/candidate.yaml")
def test_candidate_leaks_less_than_the_canary(singaudit):
    # The same run as the collected YAML items: the session shares features and translators.
    result = singaudit.run()
    singaudit.assert_expectations(result)
    candidate = singaudit.check(result, "candidate", "class_semantics")
    canary = singaudit.check(result, "canary", "class_semantics")
    assert candidate.metrics["leak"].value < canary.metrics["leak"].value


@pytest.mark.singaudit("audits/candidate.yaml")
def test_null_removal_never_changes_the_prediction(singaudit):
    result = singaudit.run(models=["candidate"], checks=["null_invariance"])
    check = singaudit.check(result, "candidate", "null_invariance")
    assert check.metrics["top1_unchanged"].value == 1.0
