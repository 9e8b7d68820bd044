import langchain_automix

EXPECTED_ALL = [
    "DEFAULT_SOLVE_PROMPT",
    "DEFAULT_VERIFY_PROMPT",
    "POMDP",
    "AutoMixContext",
    "AutoMixError",
    "AutoMixInput",
    "AutoMixInputError",
    "AutoMixModelError",
    "AutoMixResult",
    "AutoMixRunnable",
    "AutomixUnion",
    "CostModel",
    "Decision",
    "DoubleThreshold",
    "FixedAnswerRouting",
    "GreedyPOMDP",
    "MetaVerifier",
    "Observation",
    "PolicyError",
    "ReplayDataset",
    "ReplayError",
    "SelfConsistency",
    "Threshold",
    "TierAttempt",
    "TokenPrice",
    "VerificationResult",
    "VerifierSettings",
    "__version__",
    "available_meta_verifiers",
    "build_automix_graph",
    "compare_methods",
    "evaluate_policy",
    "get_meta_verifier",
    "load_replay",
    "parse_verification",
    "write_replay",
]


def test_all_is_pinned() -> None:
    assert sorted(langchain_automix.__all__) == sorted(EXPECTED_ALL)
    for name in langchain_automix.__all__:
        assert hasattr(langchain_automix, name), name
