import langchain_automix

EXPECTED_ALL = [
    "DECISION_GRAMMAR",
    "DEFAULT_SOLVE_PROMPT",
    "DEFAULT_VERIFY_PROMPT",
    "POMDP",
    "POMDPSimple",
    "SIGNALS",
    "AutoMixContext",
    "AutoMixError",
    "AutoMixInput",
    "AutoMixInputError",
    "AutoMixModelError",
    "AutoMixResult",
    "AutoMixRunnable",
    "AutomixUnion",
    "Calibrated",
    "Chained",
    "ChatAutoMix",
    "CostModel",
    "Decision",
    "DoubleThreshold",
    "FixedAnswerRouting",
    "GreedyPOMDP",
    "MetaVerifier",
    "Observation",
    "PolicyError",
    "PolicyMismatchError",
    "PolicyMismatchWarning",
    "Provenance",
    "ReplayDataset",
    "ReplayError",
    "SelfConsistency",
    "SignalCombiner",
    "Threshold",
    "TierAttempt",
    "TokenPrice",
    "TripleThreshold",
    "VerificationResult",
    "VerifierReport",
    "VerifierSettings",
    "__version__",
    "available_meta_verifiers",
    "build_automix_graph",
    "compare_methods",
    "create_app",
    "create_automix_graph",
    "decision_grammar",
    "evaluate_policy",
    "get_meta_verifier",
    "load_replay",
    "parse_verification",
    "verifier_report",
    "write_replay",
]


def test_all_is_pinned() -> None:
    assert sorted(langchain_automix.__all__) == sorted(EXPECTED_ALL)
    for name in langchain_automix.__all__:
        assert hasattr(langchain_automix, name), name


def test_core_import_does_not_load_the_server() -> None:
    import subprocess
    import sys

    code = (
        "import sys, langchain_automix; "
        "assert 'fastapi' not in sys.modules and 'langserve' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
