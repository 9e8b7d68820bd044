import langchain_automix

EXPECTED_ALL = [
    "DEFAULT_SOLVE_PROMPT",
    "DEFAULT_VERIFY_PROMPT",
    "AutoMixContext",
    "AutoMixError",
    "AutoMixInput",
    "AutoMixInputError",
    "AutoMixModelError",
    "AutoMixResult",
    "AutoMixRunnable",
    "CostModel",
    "Decision",
    "MetaVerifier",
    "Observation",
    "Threshold",
    "TierAttempt",
    "TokenPrice",
    "VerificationResult",
    "VerifierSettings",
    "__version__",
    "build_automix_graph",
    "parse_verification",
]


def test_all_is_pinned() -> None:
    assert sorted(langchain_automix.__all__) == sorted(EXPECTED_ALL)
    for name in langchain_automix.__all__:
        assert hasattr(langchain_automix, name), name
